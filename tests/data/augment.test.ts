import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NO_AUGMENT, applyAugment, augmentSample, colourJitter, drawAugment, flipImage, flipMask } from '../../shared/data/augment.js';
import { sampleRng } from '../../shared/data/sample_rng.js';
import type { BinaryMask, RgbImage } from '../../shared/data/types.js';
import { Rng } from '../helpers/rng.js';

function randomImage(w: number, h: number, seed: number): RgbImage {
  const rng = new Rng(seed);
  return { width: w, height: h, data: Uint8Array.from({ length: w * h * 3 }, () => rng.int(0, 255)) };
}

function randomMask(w: number, h: number, seed: number): BinaryMask {
  const rng = new Rng(seed);
  return { width: w, height: h, data: Uint8Array.from({ length: w * h }, () => (rng.next() < 0.4 ? 1 : 0)) };
}

describe('augment', () => {
  it('flip mirrors image and masks consistently (pixel (x, y) -> (W - 1 - x, y))', () => {
    const image = randomImage(7, 5, 1);
    const mask = randomMask(7, 5, 2);
    const { image: fi, masks } = applyAugment(image, [mask], { ...NO_AUGMENT, flip: true });
    const fm = masks[0]!;
    for (let y = 0; y < 5; y++) {
      for (let x = 0; x < 7; x++) {
        const s = y * 7 + x;
        const d = y * 7 + (6 - x);
        assert.equal(fm.data[d], mask.data[s]);
        for (let c = 0; c < 3; c++) assert.equal(fi.data[3 * d + c], image.data[3 * s + c]);
      }
    }
    assert.deepEqual(flipImage(flipImage(image)).data, image.data);
    assert.deepEqual(flipMask(flipMask(mask)).data, mask.data);
  });

  it('identity parameters change nothing; factors behave like torchvision ColorJitter', () => {
    const image = randomImage(6, 4, 3);
    assert.deepEqual(applyAugment(image, [], NO_AUGMENT).image.data, image.data);
    const bright = colourJitter(image, { brightness: 2, contrast: 1, saturation: 1 });
    bright.data.forEach((v, i) => assert.equal(v, Math.min(255, image.data[i]! * 2)));
    const grey = colourJitter(image, { brightness: 1, contrast: 1, saturation: 0 });
    for (let p = 0; p < 24; p++) {
      assert.ok(Math.abs(grey.data[3 * p]! - grey.data[3 * p + 1]!) <= 1 && Math.abs(grey.data[3 * p]! - grey.data[3 * p + 2]!) <= 1);
    }
    const flat = colourJitter(image, { brightness: 1, contrast: 0, saturation: 1 });
    assert.equal(new Set(flat.data).size, 1);
  });

  it('draws depend only on the sample rng: same (seed, epoch, id) gives the same augmentation, in any order', () => {
    const image = randomImage(16, 12, 4);
    const mask = randomMask(16, 12, 5);
    const ids = ['s0', 's1', 's2', 's3', 's4', 's5'];
    const run = (order: string[]): Map<string, Uint8Array> => new Map(order.map((id) => [id, augmentSample(image, [mask], sampleRng(1, 2, id)).image.data]));
    const a = run(ids);
    const b = run([...ids].reverse());
    for (const id of ids) assert.deepEqual(a.get(id), b.get(id));
    const params = ids.map((id) => drawAugment(sampleRng(1, 2, id)));
    assert.equal(new Set(params.map((p) => p.brightness)).size, ids.length, 'different ids, different draws');
    assert.notDeepEqual(drawAugment(sampleRng(1, 3, 's0')), params[0]);
  });

  it('parameters stay in the configured ranges and every call draws four numbers', () => {
    const rng = new Rng(9);
    let flips = 0;
    for (let i = 0; i < 200; i++) {
      const p = drawAugment(rng, { brightness: [0.5, 0.6], contrast: [1, 1], saturation: [1.1, 1.3], flip: 0.25 });
      assert.ok(p.brightness >= 0.5 && p.brightness <= 0.6 && p.contrast === 1 && p.saturation >= 1.1 && p.saturation <= 1.3);
      if (p.flip) flips++;
    }
    assert.ok(flips > 25 && flips < 80, `${flips} flips of 200 at p = 0.25`);
    const r1 = new Rng(5);
    const r2 = new Rng(5);
    drawAugment(r1, { flip: 0 });
    drawAugment(r2, { brightness: [1, 1] });
    assert.equal(r1.next(), r2.next());
    assert.throws(() => drawAugment(new Rng(1), { brightness: [1.2, 0.8] }), /brightness/);
  });
});
