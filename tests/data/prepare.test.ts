import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chooseObjects, collateBatch, collateInference, type LoadedSample, prepareForInference, prepareSample } from '../../shared/data/prepare.js';
import { sampleRng } from '../../shared/data/sample_rng.js';
import type { BinaryMask } from '../../shared/data/types.js';
import { LABEL_SLOTS } from '../../shared/sam/prompt_encoder.js';
import { IO } from '../../shared/sam/sam_graph.js';
import { Rng } from '../helpers/rng.js';

function disc(W: number, H: number, cx: number, cy: number, r: number): BinaryMask {
  const data = new Uint8Array(W * H);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) data[y * W + x] = Math.hypot(x + 0.5 - cx, y + 0.5 - cy) <= r ? 1 : 0;
  return { width: W, height: H, data };
}

function sample(id: string, W: number, H: number, objects: BinaryMask[], seed = 1): LoadedSample {
  const rng = new Rng(seed);
  return { id, image: { width: W, height: H, data: Uint8Array.from({ length: W * H * 3 }, () => rng.int(0, 255)) }, objects };
}

const IMG = 64;

describe('prepare', () => {
  const a = sample('a', 100, 75, [disc(100, 75, 30, 30, 12), disc(100, 75, 70, 40, 20), { width: 100, height: 75, data: new Uint8Array(7500) }]);
  const b = sample('b', 50, 80, [disc(50, 80, 25, 40, 15)], 2);

  it('prepares model-frame arrays: normalised padded image, sizes, gt / valid masks, prompts', async () => {
    const s = await prepareSample(a, { img: IMG, promptMode: 'box', objectsPerImage: 2, rng: sampleRng(0, 0, a.id) });
    assert.deepEqual(s.originalSize, [75, 100]);
    assert.deepEqual(s.inputSize, [48, 64]);
    assert.equal(s.image.length, 3 * IMG * IMG);
    assert.equal(s.image[(0 * IMG + 60) * IMG + 10], 0, 'padding is zero');
    assert.equal(s.objects.length, 2);
    assert.deepEqual(s.objects.map((o) => o.index), [0, 1], 'the empty mask is never chosen');
    for (const o of s.objects) {
      assert.equal(o.gt.length, IMG * IMG);
      assert.equal(o.weight, 1);
      assert.equal(o.prompt.count, 2);
      assert.equal(o.originalMask.width, 100);
      let validSum = 0;
      for (let i = 0; i < IMG * IMG; i++) {
        validSum += o.valid[i]!;
        if (o.gt[i]) assert.equal(o.valid[i], 1, 'gt lies inside the valid region');
      }
      assert.equal(validSum, 48 * 64);
      const [x0, y0, x1, y1] = o.promptInfo.box!;
      assert.ok(x0 >= 0 && y0 >= 0 && x1 <= 64 && y1 <= 48, `box ${o.promptInfo.box} inside the resized frame`);
    }
  });

  it('the same (seed, epoch, id) gives the same sample whatever the order; ids and epochs differ', async () => {
    const opts = (id: string, epoch = 0) => ({ img: IMG, promptMode: 'mixed' as const, objectsPerImage: 3, augment: true, rng: sampleRng(5, epoch, id) });
    const a1 = await prepareSample(a, opts('a'));
    const b1 = await prepareSample(b, opts('b'));
    const [b2, a2] = await Promise.all([prepareSample(b, opts('b')), prepareSample(a, opts('a'))]);
    assert.deepEqual(a1, a2);
    assert.deepEqual(b1, b2);
    const other = await prepareSample(a, opts('a-copy'));
    const epoch1 = await prepareSample(a, opts('a', 1));
    const differs = (x: typeof a1, y: typeof a1): boolean =>
      JSON.stringify(x.augment) !== JSON.stringify(y.augment) || x.objects.some((o, i) => o.prompt.coords.some((v, j) => v !== y.objects[i]!.prompt.coords[j]));
    assert.ok(differs(a1, other));
    assert.ok(differs(a1, epoch1));
  });

  it('objects: a subset when there are more, every one plus draws with replacement when fewer', () => {
    const masks = [0, 1, 2, 3, 4].map((i) => disc(20, 20, 4 + 3 * i, 10, 2));
    const sub = chooseObjects(masks, 3, new Rng(1));
    assert.equal(new Set(sub).size, 3);
    const more = chooseObjects(masks.slice(0, 2), 5, new Rng(1));
    assert.deepEqual(more.slice(0, 2), [0, 1]);
    assert.ok(more.every((i) => i === 0 || i === 1));
    assert.deepEqual(chooseObjects([{ width: 2, height: 2, data: new Uint8Array(4) }], 2, new Rng(1)), [-1, -1]);
  });

  it('images without objects give weight-0 placeholders; weights normalise over the batch', async () => {
    const none = sample('none', 40, 40, []);
    const s0 = await prepareSample(none, { img: IMG, promptMode: 'points', objectsPerImage: 2, rng: sampleRng(0, 0, 'none') });
    assert.deepEqual(s0.objects.map((o) => [o.index, o.weight]), [
      [-1, 0],
      [-1, 0],
    ]);
    const s1 = await prepareSample(b, { img: IMG, promptMode: 'points', objectsPerImage: 2, rng: sampleRng(0, 0, 'b') });
    const feeds = collateBatch([s0, s1]);
    assert.deepEqual([...feeds[IO.weights]!.data], [0, 0, 0.5, 0.5]);
  });

  it('collateBatch produces exactly the training graph inputs, in order', async () => {
    const opts = { img: IMG, promptMode: 'points' as const, points: 2, negativePoints: 1, objectsPerImage: 2 };
    const samples = await Promise.all([a, b].map((s) => prepareSample(s, { ...opts, rng: sampleRng(0, 0, s.id) })));
    const feeds = collateBatch(samples);
    const n = 4;
    const p = 4;
    assert.deepEqual(Object.keys(feeds).sort(), [IO.images, IO.coords, IO.labels, IO.gt, IO.valid, IO.weights].sort());
    assert.deepEqual(feeds[IO.images]!.shape, [2, 3, IMG, IMG]);
    assert.deepEqual(feeds[IO.coords]!.shape, [n, p, 2]);
    assert.deepEqual(feeds[IO.labels]!.shape, [n, p, LABEL_SLOTS]);
    assert.deepEqual(feeds[IO.gt]!.shape, [n, IMG, IMG]);
    assert.deepEqual(feeds[IO.valid]!.shape, [n, IMG, IMG]);
    assert.deepEqual(feeds[IO.weights]!.shape, [n]);
    for (const f of Object.values(feeds)) assert.equal(f.data.length, f.shape.reduce((x, y) => x * y, 1));
    assert.deepEqual([...feeds[IO.weights]!.data], [0.25, 0.25, 0.25, 0.25]);
    // Row 3 (sample b, object 1) holds that object's prompt and mask.
    assert.deepEqual(feeds[IO.coords]!.data.subarray(3 * p * 2, 4 * p * 2), samples[1]!.objects[1]!.prompt.coords);
    assert.deepEqual(feeds[IO.gt]!.data.subarray(3 * IMG * IMG, 4 * IMG * IMG), samples[1]!.objects[1]!.gt);
    const withMask = collateBatch(samples, { maskInput: true });
    assert.deepEqual(withMask[IO.maskInput]!.shape, [n, 1, IMG / 4, IMG / 4]);
    assert.deepEqual(withMask[IO.hasMask]!.shape, [n]);
    const boxes = await prepareSample(a, { img: IMG, promptMode: 'box', objectsPerImage: 2, rng: sampleRng(0, 0, 'a') });
    assert.throws(() => collateBatch([samples[0]!, boxes]), /promptTokens/);
  });

  it('augmentation flips the original-resolution mask with the image', async () => {
    const one = sample('one', 60, 40, [disc(60, 40, 15, 20, 8)]);
    let flipped = 0;
    for (let i = 0; i < 12; i++) {
      const s = await prepareSample(one, { img: IMG, promptMode: 'box', jitter: 0, objectsPerImage: 1, augment: { flip: 0.5, brightness: [1, 1], contrast: [1, 1], saturation: [1, 1] }, rng: sampleRng(0, 0, `one-${i}`) });
      const o = s.objects[0]!;
      const box = o.promptInfo.box!;
      if (s.augment.flip) {
        flipped++;
        assert.equal(o.originalMask.data[20 * 60 + 44], 1);
        assert.equal(o.originalMask.data[20 * 60 + 15], 0);
        assert.ok(box[0] > 32, `box ${box} is on the right after a flip`);
      } else {
        assert.deepEqual(o.originalMask.data, one.objects[0]!.data);
        assert.ok(box[2] < 32);
      }
    }
    assert.ok(flipped > 0 && flipped < 12);
  });

  it('prepareForInference maps caller prompts into the model frame', async () => {
    const s = await prepareForInference({ image: a.image }, [{ box: [10, 20, 50, 60] }, { points: [[50, 30]], labels: [1] }, { points: [[50, 30]], box: [0, 0, 100, 75] }], { img: IMG });
    assert.deepEqual(s.inputSize, [48, 64]);
    assert.deepEqual([...s.objects[0]!.prompt.coords], [6.4, 12.8, 32, 38.4].map(Math.fround));
    assert.equal(s.objects[1]!.prompt.count, 2);
    assert.equal(s.objects[2]!.prompt.count, 3);
    const one = await prepareForInference({ image: a.image }, [{ box: [10, 20, 50, 60] }], { img: IMG });
    const feeds = collateInference([one, one]);
    assert.deepEqual(feeds[IO.images]!.shape, [2, 3, IMG, IMG]);
    assert.deepEqual(feeds[IO.coords]!.shape, [2, 2, 2]);
    assert.equal(feeds[IO.gt], undefined);
  });
});
