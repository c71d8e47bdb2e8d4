// The `worker` label's values. Worker ids are issued per join (host-1, host-2, ...), so an elastic
// run that churns workers for days would grow a series per id without bound: past a cap, new ids
// share the value "other".

export const MAX_WORKER_LABELS = 64;
export const OVERFLOW_WORKER_LABEL = 'other';

export class WorkerLabels {
  private readonly known = new Set<string>();

  constructor(private readonly max = MAX_WORKER_LABELS) {}

  /** The label value for a worker id. */
  of(id: string): string {
    if (this.known.has(id)) return id;
    if (this.known.size >= this.max) return OVERFLOW_WORKER_LABEL;
    this.known.add(id);
    return id;
  }
}
