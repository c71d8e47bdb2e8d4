// Summarises an onnxruntime JSON profile (enableProfiling): the op types and the individual nodes
// that take the most kernel time. The profile is an array of trace events; node events have
// cat 'Node', name '<node>_kernel_time' (plus zero-length '_fence_before/_fence_after'), dur in µs
// and args.op_name; each session.run() is a cat 'Session' event named 'model_run'.
//
// CLI: node dist/bench/profile_summary.js FILE [--top N] [--skip-runs N]

import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export interface ProfileEvent {
  cat?: string;
  name?: string;
  ts?: number;
  dur?: number;
  args?: {
    op_name?: string;
    provider?: string;
    output_type_shape?: Record<string, number[]>[];
    mem_in_use_peak?: string;
    mem_arena_held?: string;
    [k: string]: unknown;
  };
}

export interface OpTotal {
  op: string;
  totalUs: number;
  count: number;
  /** Share of all node kernel time counted. */
  share: number;
}

export interface NodeTotal {
  node: string;
  op: string;
  /** The first output's shape, e.g. "[1,3,4096,4096]" (when the profile records it). */
  shape: string;
  totalUs: number;
  count: number;
  share: number;
}

export interface ProfileSummary {
  /** model_run events in the profile, and how many of them were left out (warm-up). */
  runs: number;
  skippedRuns: number;
  /** Sum of the counted model_run durations and of the counted node kernel times, µs. */
  runUs: number;
  nodeUs: number;
  byOp: OpTotal[];
  byNode: NodeTotal[];
  /** Largest mem_in_use_peak and mem_arena_held the profile reports (bytes; 0 when absent). */
  memInUsePeak: number;
  memArenaHeld: number;
}

export function readProfile(file: string): ProfileEvent[] {
  const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
  if (!Array.isArray(parsed)) throw new Error(`${file}: not an ORT profile (expected a JSON array of events)`);
  return parsed as ProfileEvent[];
}

const KERNEL = '_kernel_time';

/** Totals per op type and per node, leaving out the node events of the first `skipRuns` runs. */
export function summarizeProfile(events: readonly ProfileEvent[], opts: { skipRuns?: number } = {}): ProfileSummary {
  const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').sort((a, b) => (a.ts ?? 0) - (b.ts ?? 0));
  const skippedRuns = Math.min(opts.skipRuns ?? 0, Math.max(runs.length - 1, 0));
  const skipped = runs.slice(0, skippedRuns);
  const since = skipped.length ? Math.max(...skipped.map((r) => (r.ts ?? 0) + (r.dur ?? 0))) : -Infinity;
  const counted = runs.slice(skippedRuns);
  let nodes = events.filter((e) => e.cat === 'Node' && (e.ts ?? 0) >= since);
  if (nodes.some((e) => e.name?.endsWith(KERNEL))) nodes = nodes.filter((e) => e.name?.endsWith(KERNEL));
  const ops = new Map<string, { totalUs: number; count: number }>();
  const byNode = new Map<string, { op: string; shape: string; totalUs: number; count: number }>();
  let nodeUs = 0;
  let memInUsePeak = 0;
  let memArenaHeld = 0;
  for (const e of events) {
    if (e.cat !== 'Node') continue;
    memInUsePeak = Math.max(memInUsePeak, Number(e.args?.mem_in_use_peak ?? 0) || 0);
    memArenaHeld = Math.max(memArenaHeld, Number(e.args?.mem_arena_held ?? 0) || 0);
  }
  for (const e of nodes) {
    const dur = e.dur ?? 0;
    const op = e.args?.op_name ?? '?';
    const name = (e.name ?? '?').replace(/_kernel_time$/, '');
    nodeUs += dur;
    const o = ops.get(op) ?? { totalUs: 0, count: 0 };
    o.totalUs += dur;
    o.count++;
    ops.set(op, o);
    const first = e.args?.output_type_shape?.[0];
    const shape = first ? `[${(Object.values(first)[0] ?? []).join(',')}]` : '';
    const n = byNode.get(name) ?? { op, shape, totalUs: 0, count: 0 };
    n.totalUs += dur;
    n.count++;
    byNode.set(name, n);
  }
  const share = (us: number): number => (nodeUs > 0 ? us / nodeUs : 0);
  return {
    runs: runs.length,
    skippedRuns,
    runUs: counted.reduce((s, r) => s + (r.dur ?? 0), 0),
    nodeUs,
    byOp: [...ops].map(([op, v]) => ({ op, ...v, share: share(v.totalUs) })).sort((a, b) => b.totalUs - a.totalUs),
    byNode: [...byNode].map(([node, v]) => ({ node, ...v, share: share(v.totalUs) })).sort((a, b) => b.totalUs - a.totalUs),
    memInUsePeak,
    memArenaHeld,
  };
}

const ms = (us: number): string => (us / 1000).toFixed(us >= 100_000 ? 0 : 2).padStart(9);
const pct = (x: number): string => `${(100 * x).toFixed(1).padStart(5)}%`;

/** A plain-text report: top op types and top nodes, times per run (ms) where runs are known. */
export function formatSummary(s: ProfileSummary, opts: { topOps?: number; topNodes?: number } = {}): string {
  const perRun = Math.max(s.runs - s.skippedRuns, 1);
  const lines: string[] = [];
  lines.push(
    `profile: ${s.runs} run(s), ${s.skippedRuns} skipped; per counted run: model_run ${(s.runUs / perRun / 1000).toFixed(2)} ms, ` +
      `node kernels ${(s.nodeUs / perRun / 1000).toFixed(2)} ms`,
  );
  if (s.memInUsePeak || s.memArenaHeld) {
    lines.push(`memory (ORT allocator): peak in use ${(s.memInUsePeak / 2 ** 20).toFixed(0)} MiB, arena held ${(s.memArenaHeld / 2 ** 20).toFixed(0)} MiB`);
  }
  lines.push(`top op types (ms per run, share of kernel time, nodes per run):`);
  for (const o of s.byOp.slice(0, opts.topOps ?? 15)) {
    lines.push(`  ${ms(o.totalUs / perRun)}  ${pct(o.share)}  ${String(Math.round(o.count / perRun)).padStart(5)}  ${o.op}`);
  }
  lines.push(`top nodes (ms per run, share, op, node, output shape):`);
  for (const n of s.byNode.slice(0, opts.topNodes ?? 15)) {
    lines.push(`  ${ms(n.totalUs / perRun)}  ${pct(n.share)}  ${n.op.padEnd(20)} ${n.node.padEnd(40)} ${n.shape}`);
  }
  return lines.join('\n');
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: 'string', default: '15' }, 'skip-runs': { type: 'string', default: '0' } },
  });
  if (positionals.length !== 1) {
    process.stderr.write('usage: node dist/bench/profile_summary.js PROFILE.json [--top N] [--skip-runs N]\n');
    process.exit(2);
  }
  const top = Number(values.top);
  const summary = summarizeProfile(readProfile(positionals[0]!), { skipRuns: Number(values['skip-runs']) });
  process.stdout.write(`${formatSummary(summary, { topOps: top, topNodes: top })}\n`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
