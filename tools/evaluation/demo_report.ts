// What the demo job (`npm start`) shows after training: base vs LoRA on the held-out target domain,
// as `sam-lora eval` reports it (per-image table, results files, dice_chart.png, overlays), a text
// bar chart of the means, and the source-domain check: the bundled base model's own domain, scored
// with the adapter off (the base, which training never changes) and on, next to the Dice its
// pretraining recorded, so the adapter is seen to be separable.

import * as path from 'node:path';
import { PRETRAIN_RECIPE, pretrainVariant } from '../../pretrain/recipe.js';
import { writeSourceSplit } from '../../shared/data/source_domain.js';
import { readSafetensors } from '../../shared/tensor/safetensors.js';
import { type EvalRunResult, runEval } from './run_eval.js';

/** Source-domain test images the check scores: the ones the pretraining evaluation scored. */
export const SOURCE_CHECK_IMAGES = PRETRAIN_RECIPE.evalImages;

export interface DemoReportOptions {
  runDir: string;
  /** The trained LoRA file. */
  lora: string;
  /** The base checkpoint (its pretraining record is read from the file's metadata, when there). */
  baseCheckpoint: string;
  progress?: (line: string) => void;
}

export interface DemoReport {
  target: EvalRunResult;
  source: EvalRunResult;
  /** The source-domain Dice the base's pretraining recorded, when the file says. */
  recordedSourceDice: number | null;
  text: string;
}

/** One bar per model: `name  ██████████░░░░  0.8123`. */
export function textBarChart(rows: readonly { name: string; value: number }[], width = 40): string {
  const label = Math.max(...rows.map((r) => r.name.length));
  return rows
    .map((r) => {
      const v = Math.min(1, Math.max(0, r.value));
      const full = Math.round(v * width);
      return `  ${r.name.padEnd(label)}  ${'█'.repeat(full)}${'░'.repeat(width - full)}  ${r.value.toFixed(4)}`;
    })
    .join('\n');
}

async function recordedDice(file: string): Promise<number | null> {
  try {
    const { metadata } = await readSafetensors(file);
    const raw = metadata?.sam_lora_pretrain_result;
    if (!raw) return null;
    const dice = (JSON.parse(raw) as { source_test?: { dice?: unknown } }).source_test?.dice;
    return typeof dice === 'number' ? dice : null;
  } catch {
    return null;
  }
}

const meanOf = (r: EvalRunResult, name: string): number => r.results.find((m) => m.name === name)?.mean.dice ?? Number.NaN;

export async function demoReport(o: DemoReportOptions): Promise<DemoReport> {
  const config = path.join(o.runDir, 'config.yaml');
  const loras = [{ file: o.lora, name: 'lora' }];
  const target = await runEval({ configPath: config, loras, out: path.join(o.runDir, 'eval'), ...(o.progress ? { progress: o.progress } : {}) });
  const sourceDir = path.join(o.runDir, 'source-data', 'test');
  await writeSourceSplit(sourceDir, PRETRAIN_RECIPE.evalSeed, 'test', SOURCE_CHECK_IMAGES, pretrainVariant().img);
  const source = await runEval({ configPath: config, loras, data: sourceDir, out: path.join(o.runDir, 'eval-source'), noOverlays: true, ...(o.progress ? { progress: o.progress } : {}) });
  const recorded = await recordedDice(o.baseCheckpoint);
  const bars = (r: EvalRunResult): string => textBarChart(r.results.map((m) => ({ name: m.name, value: m.mean.dice })));
  const baseSource = meanOf(source, 'base');
  const text = [
    `Target domain (held-out ${target.data}): base vs LoRA`,
    target.table,
    'mean Dice:',
    bars(target),
    `predicted IoU (the IoU head) vs real IoU, Pearson's r: ${target.results.map((m) => `${m.name} ${Number.isNaN(m.iouCorrelation) ? 'n/a' : m.iouCorrelation.toFixed(3)}`).join(', ')}`,
    `(table: ${target.files.csv}; chart: ${target.files.chart}; overlays: ${target.files.overlays ?? 'none'})`,
    '',
    `Source domain (the base's pretraining data, ${SOURCE_CHECK_IMAGES} test images): adapter off = the base, unchanged by training`,
    bars(source),
    `adapter off: Dice ${baseSource.toFixed(4)}${recorded === null ? '' : ` (its pretraining recorded ${recorded.toFixed(4)} on the same images)`}; adapter on: Dice ${meanOf(source, 'lora').toFixed(4)}`,
    '',
  ].join('\n');
  return { target, source, recordedSourceDice: recorded, text };
}
