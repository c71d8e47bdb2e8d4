// Smoke test of the benchmark's measuring child: one training step of the smallest fixture variant
// in its own process, and its JSON result line.

import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { summarizeProfile, type ProfileEvent } from '../../bench/profile_summary.js';
import { fixtureDirs } from '../helpers/fixtures.js';
import { type ScriptRun, runNodeScript } from '../helpers/run_script.js';

const STEP_SCRIPT = fileURLToPath(new URL('../../bench/sam_step.js', import.meta.url));

/** The fixture with the smallest checkpoint file. */
function smallestFixture(): string | undefined {
  const dirs = fixtureDirs().sort((a, b) => statSync(path.join(a, 'sam.pth')).size - statSync(path.join(b, 'sam.pth')).size);
  return dirs[0] && path.basename(dirs[0]);
}

const runChild = (args: string[]): Promise<ScriptRun> => runNodeScript(STEP_SCRIPT, args);

describe('bench/sam_step', () => {
  const variant = smallestFixture();
  it('measures one training step of the smallest fixture and prints one JSON result line', { skip: variant ? false : 'no fixtures', timeout: 60_000 }, async () => {
    const r = await runChild(['--variant', variant!, '--bench', 'train_step', '--batch', '1', '--threads', '2', '--steps', '1', '--memory', 'all']);
    assert.equal(r.code, 0, `sam_step failed:\n${r.stderr}`);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 1, `stdout must hold only the result line, got:\n${r.stdout}`);
    const result = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.deepEqual(Object.keys(result).sort(), ['batch', 'bench', 'cpu_s', 'feed_bytes_per_step', 'fetch_bytes_per_step', 'median_s', 'memory_mode', 'micro_batch', 'peak_rss_bytes', 'threads', 'variant']);
    assert.equal(result.micro_batch, 1, 'the worker\'s default micro-batch');
    assert.equal(result.memory_mode, 'all');
    assert.ok(typeof result.cpu_s === 'number' && result.cpu_s > 0, `cpu_s ${String(result.cpu_s)}`);
    assert.equal(result.bench, 'train_step');
    assert.equal(result.variant, variant);
    assert.equal(result.batch, 1);
    assert.equal(result.threads, 2);
    assert.equal(typeof result.median_s, 'number');
    assert.ok((result.median_s as number) > 0 && (result.median_s as number) < 60, `median_s ${String(result.median_s)}`);
    assert.ok(Number.isInteger(result.peak_rss_bytes) && (result.peak_rss_bytes as number) > 10 * 2 ** 20, `peak_rss_bytes ${String(result.peak_rss_bytes)}`);
    // At least the image, the ground-truth and valid masks go in; at least the loss comes out.
    const feed = result.feed_bytes_per_step as number;
    assert.ok(Number.isInteger(feed) && feed >= 5 * 64 * 64 * 4, `feed_bytes_per_step ${feed}`);
    assert.ok(Number.isInteger(result.fetch_bytes_per_step) && (result.fetch_bytes_per_step as number) >= 4, `fetch_bytes_per_step ${String(result.fetch_bytes_per_step)}`);
  });

  it('runs a step of 3 images as the worker does by default: 3 runs of the batch-1 graph; --micro-batch 3 as one run, 2 as two padded', { skip: variant ? false : 'no fixtures', timeout: 60_000 }, async () => {
    const step = async (extra: string[]): Promise<Record<string, unknown>> => {
      const r = await runChild(['--variant', variant!, '--bench', 'train_step', '--threads', '1', '--warmup', '0', '--steps', '1', '--memory', 'all', ...extra]);
      assert.equal(r.code, 0, `sam_step ${extra.join(' ')} failed:\n${r.stderr}`);
      return JSON.parse(r.stdout.trim()) as Record<string, unknown>;
    };
    const one = await step(['--batch', '1']);
    const micro = await step(['--batch', '3']);
    const whole = await step(['--batch', '3', '--micro-batch', '3']);
    const padded = await step(['--batch', '3', '--micro-batch', '2']);
    assert.deepEqual([micro.batch, micro.micro_batch, whole.micro_batch, padded.micro_batch], [3, 1, 3, 2]);
    // Every run feeds its images and the LoRA weights and fetches the gradients: three runs, three times batch 1's.
    assert.equal(micro.feed_bytes_per_step, 3 * (one.feed_bytes_per_step as number));
    assert.equal(micro.fetch_bytes_per_step, 3 * (one.fetch_bytes_per_step as number));
    // Two runs of the batch-2 graph, the second padded with a copy: twice one run of batch 2.
    const two = await step(['--batch', '2', '--micro-batch', '2']);
    assert.equal(padded.feed_bytes_per_step, 2 * (two.feed_bytes_per_step as number));
    assert.equal(padded.fetch_bytes_per_step, 2 * (two.fetch_bytes_per_step as number));
    assert.ok((whole.feed_bytes_per_step as number) < (micro.feed_bytes_per_step as number), 'one run feeds the LoRA weights once');
  });

  it('rejects --micro-batch for a forward pass', async () => {
    const r = await runChild(['--variant', 'x', '--bench', 'forward', '--micro-batch', '2']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--micro-batch applies to --bench train_step only/);
  });

  it('rejects an unknown bench kind with a usage error', async () => {
    const r = await runChild(['--variant', 'x', '--bench', 'nope']);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /--bench must be one of train_step, forward/);
  });

  it('rejects an unknown memory mode, naming the accepted ones', async () => {
    const r = await runChild(['--variant', 'x', '--memory', 'some']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--memory: memory mode must be one of none, global, all \(got "some"\)/);
  });
});

describe('bench/profile_summary', () => {
  it('totals kernel time per op type and per node, leaving out the warm-up runs', () => {
    const node = (name: string, op: string, ts: number, dur: number): ProfileEvent => ({ cat: 'Node', name: `${name}_kernel_time`, ts, dur, args: { op_name: op, output_type_shape: [{ float: [2, 3] }] } });
    const events: ProfileEvent[] = [
      { cat: 'Session', name: 'model_run', ts: 0, dur: 100 },
      node('mm', 'MatMul', 10, 80),
      { cat: 'Node', name: 'mm_fence_before', ts: 9, dur: 0, args: { op_name: 'MatMul' } },
      { cat: 'Session', name: 'model_run', ts: 200, dur: 50 },
      node('mm', 'MatMul', 210, 30),
      node('add', 'Add', 240, 10),
      { cat: 'Session', name: 'model_run', ts: 300, dur: 50 },
      node('mm', 'MatMul', 310, 20),
      node('add', 'Add', 330, 20),
    ];
    const s = summarizeProfile(events, { skipRuns: 1 });
    assert.equal(s.runs, 3);
    assert.equal(s.skippedRuns, 1);
    assert.equal(s.runUs, 100);
    assert.equal(s.nodeUs, 80);
    assert.deepEqual(s.byOp.map((o) => [o.op, o.totalUs, o.count]), [['MatMul', 50, 2], ['Add', 30, 2]]);
    assert.deepEqual(s.byNode.map((n) => [n.node, n.totalUs, n.shape]), [['mm', 50, '[2,3]'], ['add', 30, '[2,3]']]);
  });
});
