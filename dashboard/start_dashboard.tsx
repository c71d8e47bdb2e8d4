// Puts the dashboard on the terminal for the length of a run: subscribes to the run's events, renders
// with Ink (at most 4 frames a second), and on close draws the final state and leaves it on screen,
// so the summary printed next follows it.

import { render } from 'ink';
import type { RunEvents } from '../coordinator/run_events.js';
import { Dashboard, type StopKey } from './app.js';
import { RunStore } from './run_store.js';

export interface DashboardOptions {
  events: RunEvents;
  onStop: (key: StopKey) => void;
  signal?: AbortSignal;
  stdout?: NodeJS.WriteStream;
  stdin?: NodeJS.ReadStream;
  stderr?: NodeJS.WriteStream;
}

export interface DashboardHandle {
  /** Draws the final state, restores the terminal and returns once Ink has let go of it. */
  close(): Promise<void>;
}

export function startDashboard(o: DashboardOptions): DashboardHandle {
  const store = new RunStore(o.events);
  const ink = render(<Dashboard store={store} onStop={o.onStop} {...(o.signal ? { signal: o.signal } : {})} />, {
    stdout: o.stdout ?? process.stdout,
    stdin: o.stdin ?? process.stdin,
    stderr: o.stderr ?? process.stderr,
    // Ctrl-C is the graceful stop (handled by the dashboard), not Ink's immediate exit.
    exitOnCtrlC: false,
    maxFps: 4,
    // Whole-frame redraws (inside synchronized-output markers, so terminals show them at once): Ink
    // 6.8's incremental renderer moves the cursor up one line too few for frames shorter than the
    // terminal, so each redraw lands a line lower and leaves stale lines behind.
    incrementalRendering: false,
  });
  let closed: Promise<void> | null = null;
  return {
    close(): Promise<void> {
      closed ??= (async () => {
        store.flush();
        store.close();
        // Let React commit the final snapshot before Ink renders its last frame on unmount.
        await new Promise<void>((resolve) => setImmediate(resolve));
        ink.unmount();
        await ink.waitUntilExit();
      })();
      return closed;
    },
  };
}
