// Runs jobs one at a time, in arrival order, with a bounded number waiting: a burst of requests
// queues instead of running several encoders at once (each holds the model's activations, so
// concurrent runs multiply peak memory), and past the bound is refused (503) rather than buffered.

import { HttpError } from './http_error.js';

interface Waiting {
  start: () => void;
  refuse: (err: HttpError) => void;
}

const closingError = (): HttpError => new HttpError(503, 'closing', 'the server is shutting down');

export class SerialQueue {
  private readonly waiting: Waiting[] = [];
  /** The running job's outcome (never rejects), or null when idle. */
  private running: Promise<void> | null = null;
  private closed = false;

  /** maxWaiting: jobs allowed to wait behind the running one. */
  constructor(private readonly maxWaiting: number) {}

  /** Jobs waiting or running. */
  get size(): number {
    return this.waiting.length + (this.running ? 1 : 0);
  }

  run<T>(job: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(closingError());
    if (this.running && this.waiting.length >= this.maxWaiting) {
      return Promise.reject(new HttpError(503, 'busy', `the server is busy (${this.maxWaiting} requests already waiting); try again shortly`, { 'Retry-After': '2' }));
    }
    return new Promise<T>((resolve, reject) => {
      const start = (): void => {
        const result = Promise.resolve().then(job);
        result.then(resolve, reject);
        this.running = result.then(
          () => this.next(),
          () => this.next(),
        );
      };
      if (this.running) this.waiting.push({ start, refuse: reject });
      else start();
    });
  }

  private next(): void {
    this.running = null;
    this.waiting.shift()?.start();
  }

  /** Refuses new and waiting jobs (503 closing); resolves when the running one has ended. */
  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiting.splice(0)) w.refuse(closingError());
    await this.running;
  }
}
