// Ctrl-C / SIGTERM for long runs: the first signal asks the run to stop after its current step
// (with a checkpoint); a second one quits at once.

export interface GracefulStop {
  /** Stops as the first Ctrl-C does (after this step, with a checkpoint); called again, quits at once. The dashboard's `q`. */
  request: () => void;
  /** Tells the operator the run is stopping: stderr, unless a dashboard that says so itself is on screen. */
  notice: (text: string) => void;
}

export async function withGracefulStop<T>(run: (signal: AbortSignal, stop: GracefulStop) => Promise<T>): Promise<T> {
  const stop = new AbortController();
  const control: GracefulStop = {
    notice: (text) => process.stderr.write(`\n${text}\n`),
    request: () => {
      if (stop.signal.aborted) process.exit(130);
      control.notice('stopping after this step (checkpointing); press Ctrl-C again to quit at once');
      stop.abort();
    },
  };
  const onSignal = (): void => control.request();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await run(stop.signal, control);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
