// Real training runs on this host with host groups: a tiny generated SAM and W workers in this
// process (each with its own compute thread, all over gRPC on loopback), trained three ways on the
// same config:
// `ungrouped` (every worker direct, all in this host's one group: today's star), `direct` (every
// worker direct, labelled with G groups) and `grouped` (one aggregator per group, the workers through
// it). It prints, per way, the gradient bytes into the coordinator per step and the final weights'
// hash: `grouped` must equal `direct` bit for bit and take G/W of the bytes; `ungrouped` adds in
// another order, so its hash differs in the last bits (README "Host groups").
//
// node dist/bench/host_groups_run.js [--workers 8] [--groups 2] [--epochs 3]
// One JSON line per way on stdout. Batch = workers (one sample per worker and step): the same split
// with or without aggregators.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { runAggregator } from '../aggregator/run_aggregator.js';
import { runDistributed } from '../coordinator/distributed_run.js';
import { RunEvents } from '../coordinator/run_events.js';
import { errorWithStack } from '../shared/errors/error_message.js';
import { loadLora } from '../shared/sam/lora_io.js';
import { weightsHash } from '../shared/tensor/weights_hash.js';
import { runRemoteWorker } from '../worker/grpc_worker.js';
import { tinyRunConfig } from '../tests/distributed/helpers.js';

type Way = 'ungrouped' | 'direct' | 'grouped';

async function run(way: Way, config: string, dir: string, workers: number, groups: number): Promise<Record<string, unknown>> {
  const stop = new AbortController();
  const running: Promise<void>[] = [];
  const events = new RunEvents();
  const bytesIn: number[] = [];
  const shares: string[] = [];
  let inStep = 0;
  events.on((e) => {
    if (e.kind === 'tensor_bytes' && e.direction === 'received') inStep += e.bytes;
    if (e.kind === 'step') {
      bytesIn.push(inStep);
      inStep = 0;
      shares.push(e.timing.workers.map((w) => w.samples).join('/'));
    }
  });
  const sizes = Array.from({ length: groups }, (_, g) => Math.ceil(((g + 1) * workers) / groups) - Math.ceil((g * workers) / groups));
  const worker = (address: string, group?: string, aggregator?: string): void => {
    running.push(runRemoteWorker({ address, ...(group ? { group } : {}), ...(aggregator ? { aggregator } : {}), runtime: { intraOpThreads: 1 }, signal: stop.signal, maxAttempts: 3 }));
  };
  const t0 = performance.now();
  try {
    const summary = await runDistributed({
      configPath: config,
      runDir: path.join(dir, way),
      listen: '127.0.0.1:0',
      minWorkers: workers, // an aggregator counts its group's workers (GroupSize)
      deadlineMs: 120_000,
      completionGraceMs: 0,
      events,
      onListening: (address) => {
        sizes.forEach((n, g) => {
          const name = `g${g}`;
          if (way !== 'grouped') {
            for (let i = 0; i < n; i++) worker(address, way === 'direct' ? name : undefined);
            return;
          }
          running.push(runAggregator({ coordinator: address, listen: '127.0.0.1:0', group: name, signal: stop.signal, maxAttempts: 3, onListening: (at) => Array.from({ length: n }, () => worker(address, name, at)) }));
        });
      },
    });
    const lora = await loadLora(path.join(summary.checkpoints.final!, 'lora.safetensors'));
    return {
      bench: 'host_groups_run',
      way,
      workers,
      groups: way === 'ungrouped' ? 1 : groups,
      aggregators: way === 'grouped' ? groups : 0,
      status: summary.status,
      steps: summary.steps,
      evictions: summary.evictions,
      samples_per_endpoint_last_step: shares[shares.length - 1] ?? null,
      coordinator_bytes_in_per_step: bytesIn,
      final_weights_hash: weightsHash(new Map([...lora.tensors].map(([k, t]) => [k, t.data]))),
      losses: summary.losses,
      wall_s: (performance.now() - t0) / 1000,
    };
  } finally {
    stop.abort();
    await Promise.allSettled(running);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { workers: { type: 'string' }, groups: { type: 'string' }, epochs: { type: 'string' } } });
  const workers = Number(values.workers ?? 8);
  const groups = Number(values.groups ?? 2);
  const epochs = Number(values.epochs ?? 3);
  if (!(Number.isInteger(workers) && workers >= 1 && Number.isInteger(groups) && groups >= 1 && groups <= workers && Number.isInteger(epochs) && epochs >= 1)) {
    throw new Error('expected whole numbers: --workers W >= 1, --groups G from 1 to W, --epochs N >= 1');
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'samlora-groups-run-'));
  try {
    const config = await tinyRunConfig(dir, { train: 2 * workers, batch: workers, epochs });
    for (const way of ['ungrouped', 'direct', 'grouped'] as const) process.stdout.write(`${JSON.stringify(await run(way, config, dir, workers, groups))}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`host_groups_run: ${errorWithStack(err)}\n`);
  process.exitCode = 1;
});
