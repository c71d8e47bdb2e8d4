// Histogram buckets for training work (steps, worker compute, reduction, waits): from a millisecond
// (a tiny model's reduction) to ten minutes (a ViT-H step on a slow worker, the default step
// deadline), roughly log-spaced (1, 2.5, 5 per decade). The client library's default buckets are
// for web requests and stop at 10 s.

export const TRAINING_SECONDS_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 60, 120, 300, 600];
