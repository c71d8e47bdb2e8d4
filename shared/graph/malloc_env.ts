// Environment for processes that run training sessions. glibc raises its mmap threshold to the size
// of each mmapped block freed (up to 32 MiB), after which tensors of up to that size come from the
// heap and stay resident once freed; a fixed threshold keeps every block of 1 MiB or more mmapped,
// so freed activations leave the process (ViT-B step, arena off: 2.57 -> 2.43 GB peak RSS).
// glibc reads it at start-up, so it is set on the processes we spawn; other allocators ignore it.

export const MALLOC_MMAP_THRESHOLD_VAR = 'MALLOC_MMAP_THRESHOLD_';
export const MALLOC_MMAP_THRESHOLD_BYTES = 2 ** 20;

/** `env` with the fixed mmap threshold added, unless it sets one already. */
export function withTrainingMallocEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (env[MALLOC_MMAP_THRESHOLD_VAR] !== undefined) return env;
  return { ...env, [MALLOC_MMAP_THRESHOLD_VAR]: String(MALLOC_MMAP_THRESHOLD_BYTES) };
}
