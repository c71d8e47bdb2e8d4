import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { chartSvg, escapeXml, renderChartPng } from '../../../tools/evaluation/chart.js';

describe('chart', () => {
  const bars = [
    { name: 'base', dice: 0.31, iou: 0.2 },
    { name: 'r<4>&"x"', dice: 0.85, iou: 0.74 },
  ];

  it('labels every bar with its value and every model by name (escaped)', () => {
    const svg = chartSvg(bars, { subtitle: 'test: 2 images' });
    for (const s of ['0.310', '0.200', '0.850', '0.740', '>base<', escapeXml('r<4>&"x"'), 'Dice', 'IoU', 'test: 2 images']) assert.ok(svg.includes(s), `svg lacks ${s}`);
    assert.ok(!svg.includes('r<4>'), 'names are escaped');
  });

  it('rasterises to a PNG with dark text pixels on white', async () => {
    const png = await renderChartPng(bars);
    const meta = await sharp(png).metadata();
    assert.equal(meta.format, 'png');
    assert.ok(meta.width! >= 400 && meta.height! >= 300);
    // The title row (y 10..35) holds dark glyph pixels when a font rendered.
    const { data, info } = await sharp(png).extract({ left: 0, top: 10, width: meta.width!, height: 26 }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    let dark = 0;
    for (let i = 0; i < info.width * info.height; i++) if (data[3 * i]! < 100 && data[3 * i + 1]! < 100 && data[3 * i + 2]! < 100) dark++;
    assert.ok(dark > 50, `title text rendered (${dark} dark pixels)`);
  });

  it('handles NaN means (a model without scored images)', () => {
    assert.ok(chartSvg([{ name: 'x', dice: Number.NaN, iou: Number.NaN }]).includes('n/a'));
  });
});
