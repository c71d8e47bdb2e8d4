import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ModelResult } from '../../../tools/evaluation/evaluate.js';
import { resultsCsv, resultsJson, resultsTable } from '../../../tools/evaluation/report.js';

const model = (name: string, rows: [string, number, number][]): ModelResult => ({
  name,
  file: name === 'base' ? null : `${name}.safetensors`,
  decoderFile: null,
  spec: null,
  mean: { dice: rows.reduce((a, r) => a + r[1], 0) / rows.length, iou: rows.reduce((a, r) => a + r[2], 0) / rows.length },
  meanPredictedIou: 0.5,
  iouCorrelation: name === 'base' ? Number.NaN : 0.75,
  images: rows.map(([id, dice, iou]) => ({ id, dice, iou, objects: 1, predictedIou: 0.5 })),
  failed: [],
});

describe('eval report', () => {
  const results = [
    model('base', [
      ['images/a.png', 0.5, 0.25],
      ['images/b,c.png', 1, 1],
    ]),
    model('r4', [
      ['images/a.png', 0.75, 0.6],
      ['images/b,c.png', 0.9, 0.8],
    ]),
  ];

  it('prints a row per image, Dice and IoU per model, and a mean row', () => {
    const lines = resultsTable(results).trimEnd().split('\n');
    assert.match(lines[0]!, /^image\s+base dice\s+base iou\s+r4 dice\s+r4 iou$/);
    const body = lines.filter((l) => !l.startsWith('-') && l !== lines[0]);
    assert.deepEqual(
      body.map((l) => l.split(/\s{2,}/)),
      [
        ['images/a.png', '0.5000', '0.2500', '0.7500', '0.6000'],
        ['images/b,c.png', '1.0000', '1.0000', '0.9000', '0.8000'],
        ['mean', '0.7500', '0.6250', '0.8250', '0.7000'],
      ],
    );
  });

  it('writes one CSV row per image x model, quoting where needed', () => {
    assert.equal(resultsCsv(results), 'image,model,dice,iou,objects\nimages/a.png,base,0.5,0.25,1\nimages/a.png,r4,0.75,0.6,1\n"images/b,c.png",base,1,1,1\n"images/b,c.png",r4,0.9,0.8,1\n');
  });

  it('writes the means and per-image rows of every model to JSON', () => {
    const doc = JSON.parse(resultsJson({ data: '/d', weights: 'w' }, results)) as {
      samples: number;
      models: { name: string; mean: { dice: number }; iou_correlation: number | null; images: { predicted_iou: number }[] }[];
    };
    assert.equal(doc.samples, 2);
    assert.deepEqual(
      doc.models.map((m) => [m.name, m.mean.dice, m.images.length]),
      [
        ['base', 0.75, 2],
        ['r4', 0.825, 2],
      ],
    );
    // The IoU head's agreement with the real IoU: a number, or null where undefined (never NaN, which JSON cannot hold).
    assert.deepEqual(
      doc.models.map((m) => [m.iou_correlation, m.images[0]!.predicted_iou]),
      [
        [null, 0.5],
        [0.75, 0.5],
      ],
    );
  });
});
