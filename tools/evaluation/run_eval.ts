// `sam-lora eval` end to end: the model, the LoRA files, the test split, the evaluation, and every
// output file (results.json, results.csv, dice_chart.png, overlays/<model>/<image>.png).
//
// The test split: --data when given, else the config's data.test; a demo run's config.yaml (its
// data.train and data.test are null: the run generated its dataset) falls back to the dataset that run
// generated, <run dir>/demo-data/test, found beside the config file (run dir) or two levels up (a
// checkpoint directory's config.yaml). The samples are scanned first (data.on_bad_sample: fail reports
// every bad file at once, skip leaves them out with a note).

import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { openDataset } from '../../shared/data/dataset.js';
import { encodeRgbPng } from '../../shared/data/demo_data.js';
import { scanDataset } from '../../shared/data/scan.js';
import { renderChartPng } from './chart.js';
import { type BaseModel, type BaseModelOptions, type EvalModel, baseEvalModel, describeModel, loadBaseModel, loadLoraModel } from './eval_model.js';
import { type ModelResult, evaluateModels } from './evaluate.js';
import { imageNames, modelNames } from './names.js';
import { renderOverlay } from './overlay.js';
import { resultsCsv, resultsJson, resultsTable } from './report.js';

export interface EvalRunOptions extends BaseModelOptions {
  /** LoRA files, each with an optional explicit name. */
  loras: readonly { file: string; name?: string }[];
  /** Test split directory (or COCO .json); default: see the header. */
  data?: string;
  out: string;
  /** Leave out overlays/ (default: written). */
  noOverlays?: boolean;
  progress?: (line: string) => void;
}

export interface EvalRunResult {
  results: ModelResult[];
  table: string;
  files: { json: string; csv: string; chart: string; overlays: string | null };
  data: string;
}

/** The test split a config points at, or null. */
export function defaultTestSplit(base: BaseModel, configPath: string | undefined): string | null {
  if (base.config.data.test) return base.config.data.test;
  if (configPath === undefined || base.config.data.train) return null;
  const dir = path.dirname(path.resolve(configPath));
  for (const runDir of [dir, path.resolve(dir, '..', '..')]) {
    const test = path.join(runDir, 'demo-data', 'test');
    if (existsSync(test)) return test;
  }
  return null;
}

export async function runEval(o: EvalRunOptions): Promise<EvalRunResult> {
  const say = o.progress ?? (() => undefined);
  const base = await loadBaseModel(o);
  say(`SAM: ${base.description}`);
  const names = modelNames(o.loras);
  const models: EvalModel[] = [baseEvalModel()];
  // Every LoRA is loaded and checked before any evaluation starts.
  for (const [i, l] of o.loras.entries()) models.push(await loadLoraModel(l.file, names[i]!, base));
  for (const m of models) say(`  ${describeModel(m)}`);

  const data = o.data ?? defaultTestSplit(base, o.configPath);
  if (!data) throw new Error(`no test split: pass --data DIR (the config ${base.config.source} sets no data.test)`);
  const config = base.config;
  const ds = await openDataset({
    path: data,
    format: config.data.format === 'auto' ? undefined : config.data.format,
    ...(o.data === undefined && config.data.annotations ? { annotations: config.data.annotations } : {}),
  });
  const scan = await scanDataset(ds, config.data.onBadSample);
  if (scan.skippedIds.length) {
    say(`${data}: skipping ${scan.skippedIds.length} bad sample(s):`);
    for (const p of scan.skipped) say(`  ${p.file}: ${p.reason}`);
  }
  say(`data: ${ds.root} (${scan.samples.length} image(s))`);

  await mkdir(o.out, { recursive: true });
  const ids = scan.samples.map((s) => s.id);
  const fileNames = imageNames(ids);
  const fileOf = new Map(ids.map((id, i) => [id, fileNames[i]!]));
  const overlayDir = o.noOverlays ? null : path.join(o.out, 'overlays');
  const results = await evaluateModels({
    base,
    models,
    dataset: ds,
    samples: scan.samples,
    progress: say,
    onPrediction: overlayDir
      ? async (p) => {
          const dir = path.join(overlayDir, p.model.name);
          await mkdir(dir, { recursive: true });
          const n = p.sample.image.width * p.sample.image.height;
          const fill = new Uint8Array(n);
          for (const m of p.predicted) for (let i = 0; i < n; i++) fill[i] = fill[i]! | m[i]!;
          const img = renderOverlay(p.sample.image, { fill, truth: p.objects.map((m) => m.data) });
          await writeFile(path.join(dir, `${fileOf.get(p.sample.id)}.png`), await encodeRgbPng(img));
        }
      : undefined,
  });

  const files = {
    json: path.join(o.out, 'results.json'),
    csv: path.join(o.out, 'results.csv'),
    chart: path.join(o.out, 'dice_chart.png'),
    overlays: overlayDir,
  };
  await writeFile(files.json, resultsJson({ data: ds.root, weights: base.description }, results));
  await writeFile(files.csv, resultsCsv(results));
  const scored = new Set(results.flatMap((r) => r.images.map((i) => i.id))).size;
  await writeFile(
    files.chart,
    await renderChartPng(
      results.map((r) => ({ name: r.name, dice: r.mean.dice, iou: r.mean.iou })),
      { title: 'Mean Dice and IoU per model', subtitle: `${path.basename(ds.root)}: ${scored} image(s), box prompts from the ground truth` },
    ),
  );
  return { results, table: resultsTable(results), files, data: ds.root };
}
