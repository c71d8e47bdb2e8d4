// The result files of `sam-lora eval` and its printed table.
//
// results.json: { data, samples, weights, models: [{ name, file, decoder, lora, mean: {dice, iou},
//                 mean_predicted_iou, iou_correlation (Pearson's r of predicted vs real IoU over the
//                 objects; null when undefined), images: [{ id, dice, iou, objects, predicted_iou }],
//                 failed: [{ id, reason }] }] }
// results.csv:  image,model,dice,iou,objects (one row per image x model; RFC 4180 quoting)
// table:        one row per image (sample id), a Dice and an IoU column per model, then a mean row.

import type { ModelResult } from './evaluate.js';

export interface ResultsHeader {
  /** The dataset evaluated. */
  data: string;
  /** The SAM weights (BaseModel.description). */
  weights: string;
}

const finiteOrNull = (v: number): number | null => (Number.isFinite(v) ? v : null);

export function resultsJson(header: ResultsHeader, results: readonly ModelResult[]): string {
  const samples = new Set(results.flatMap((r) => r.images.map((i) => i.id))).size;
  const doc = {
    data: header.data,
    samples,
    weights: header.weights,
    models: results.map((r) => ({
      name: r.name,
      file: r.file,
      decoder: r.decoderFile,
      lora: r.spec,
      mean: r.mean,
      mean_predicted_iou: finiteOrNull(r.meanPredictedIou),
      iou_correlation: finiteOrNull(r.iouCorrelation),
      images: r.images.map((i) => ({ id: i.id, dice: i.dice, iou: i.iou, objects: i.objects, predicted_iou: finiteOrNull(i.predictedIou) })),
      failed: r.failed,
    })),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

const num = (v: number): string => (Number.isFinite(v) ? String(v) : '');

export function resultsCsv(results: readonly ModelResult[]): string {
  const lines = ['image,model,dice,iou,objects'];
  for (const id of imageOrder(results)) {
    for (const r of results) {
      const row = r.images.find((i) => i.id === id);
      if (row) lines.push([csvField(id), csvField(r.name), num(row.dice), num(row.iou), String(row.objects)].join(','));
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Every image scored by some model, in the order the models saw them. */
export function imageOrder(results: readonly ModelResult[]): string[] {
  const seen = new Set<string>();
  for (const r of results) for (const i of r.images) seen.add(i.id);
  return [...seen];
}

const cell = (v: number | undefined): string => (v === undefined ? '-' : Number.isFinite(v) ? v.toFixed(4) : 'n/a');

/** The printed table (see the header); columns padded to their widest cell. */
export function resultsTable(results: readonly ModelResult[]): string {
  const header = ['image', ...results.flatMap((r) => [`${r.name} dice`, `${r.name} iou`])];
  const rows: string[][] = imageOrder(results).map((id) => [
    id,
    ...results.flatMap((r) => {
      const row = r.images.find((i) => i.id === id);
      return [cell(row?.dice), cell(row?.iou)];
    }),
  ]);
  rows.push(['mean', ...results.flatMap((r) => [cell(r.mean.dice), cell(r.mean.iou)])]);
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c]!.length)));
  const line = (cells: string[]): string => cells.map((s, c) => (c === 0 ? s.padEnd(widths[c]!) : s.padStart(widths[c]!))).join('  ').trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(header), rule, ...rows.slice(0, -1).map(line), rule, line(rows.at(-1)!)].join('\n') + '\n';
}
