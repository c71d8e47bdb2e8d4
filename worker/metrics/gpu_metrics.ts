// GPU gauges of a CUDA worker, in base units (bytes, ratio 0..1), read from nvidia-smi when
// scraped. A failed query leaves the gauges empty for that scrape and counts the failure.

import { Counter, Gauge, type Registry } from 'prom-client';
import type { GpuQuery, GpuSample } from './gpu_query.js';

export function gpuMetrics(registry: Registry, query: GpuQuery): void {
  const registers = [registry];
  const gauge = (name: string, help: string, pick: (s: GpuSample) => number | null): Gauge<'gpu'> =>
    new Gauge({
      name,
      help,
      labelNames: ['gpu'] as const,
      registers,
      async collect() {
        this.reset();
        const samples = await query.sample().catch(() => []);
        for (const s of samples) {
          const v = pick(s);
          if (v !== null) this.set({ gpu: s.index }, v);
        }
      },
    });
  gauge('samlora_gpu_memory_used_bytes', "GPU memory in use on the worker's device (all processes), from nvidia-smi.", (s) => s.memoryUsedBytes);
  gauge('samlora_gpu_memory_total_bytes', "GPU memory of the worker's device, from nvidia-smi.", (s) => s.memoryTotalBytes);
  gauge('samlora_gpu_utilization_ratio', "Fraction of time (0..1) the worker's GPU was busy over nvidia-smi's last sample period.", (s) => s.utilization);
  // The gauges of one scrape share one query (collectors start together): count its failure once.
  let counted: Promise<GpuSample[]> | undefined;
  new Counter({
    name: 'samlora_gpu_query_failures_total',
    help: 'nvidia-smi queries that failed or timed out (the GPU gauges are empty for that scrape).',
    registers,
    async collect() {
      const answer = query.sample();
      if (answer === counted) return;
      counted = answer;
      await answer.catch(() => this.inc());
    },
  });
}
