import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ResizeLongestSide,
  applyBoxes,
  applyCoords,
  getPreprocessShape,
  pilBilinearResize,
  resizeImage,
  resizeMask,
} from '../../shared/data/transforms/resize_longest_side.js';
import type { RgbImage } from '../../shared/data/types.js';
import { fixtureDirs, readMeta } from '../helpers/fixtures.js';
import { Rng } from '../helpers/rng.js';

/** The same deterministic source the Pillow goldens below were made from. */
function goldenSource(w: number, h: number): RgbImage {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) data[(y * w + x) * 3 + c] = ((x * 37 + y * 91 + c * 53 + ((x * y * 13) % 29)) * 7) % 256;
    }
  }
  return { width: w, height: h, data };
}

// Image.frombytes('RGB', (w, h), src).resize((nw, nh), Image.BILINEAR).tobytes().hex() with Pillow 12.3.
const PIL_GOLDENS: { from: [number, number]; to: [number, number]; hex: string }[] = [
  { from: [9, 7], to: [4, 3], hex: '6d7aaf5a6c9c4c858e3a7fa5a06a9b75888079758c6e8a61a0818651828a7d657065907a' },
  {
    from: [5, 4],
    to: [11, 9],
    hex:
      '0073e60174e70275e80376e90578eb0679ec077aed097cef0a7df00b7ef10c7ff21588d01984d42178dc2571e01a7ad50f82ca1b7ad62773e32178dc1580d01184cc4cbf9657aea17281bb7e63c7527e9c25986f4f7a98785dc25d6ca63087791e916884e96a93cd79ba85a0ca54b0857b6b3fa4257e7464bc45a29061764a8f302fa215bcafa2be9aa4c365a9bf3ea5964f7c6d60538b4371a8278e8d5d7364a94a54c73af374d9e866cecc44b2b32799a7228d9b1c8197127d94087a89596f7dc26378eb5ec79eadc489aabd55a3b02da08b34a7663caf774e94895f78927e789a9f809dad838dd57396b77cac6d92af36a96950c3226bde5199ab80c8799ea784b8749ec260a877ea5d84c96aa5768baf3aad5c5bce097cef42b5b47cef79a2b788c364a9d043b6',
  },
  { from: [6, 6], to: [3, 8], hex: '0275e8087bee0d80f36291a855789b556d9baf7d958b5a717d8763c64bb192398478bd6c9083966e8da87785bda7679a62a96c727781ad5f936695706c716096777c7366b9676c71' },
  { from: [13, 10], to: [6, 5], hex: '5f7fb3506fa447809b3c78a85d736e77875da7699e7e7581728a826e845e856a71a95f8fa2728e5b9080835c7f6f897f876e757b898a91ad7d76729a62787a618164956a7e7b96a17bbd7675b27d81517a766e8da06086956fb4' },
];

const hex = (d: Uint8Array): string => Buffer.from(d).toString('hex');

function smoothImage(w: number, h: number, seed: number): RgbImage {
  const rng = new Rng(seed);
  const data = new Uint8Array(w * h * 3);
  const f = [rng.uniform(5, 20), rng.uniform(5, 20), rng.uniform(5, 20)];
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) data[(y * w + x) * 3 + c] = Math.round(128 + 100 * Math.sin(x / f[c]! + c) * Math.cos(y / (f[c]! + 3)));
    }
  }
  return { width: w, height: h, data };
}

describe('ResizeLongestSide', () => {
  it("getPreprocessShape rounds as SAM's int(x * long / max + 0.5)", () => {
    const cases: [number, number, number, [number, number]][] = [
      [101, 125, 128, [103, 128]],
      [773, 1021, 1024, [775, 1024]],
      [1017, 521, 1024, [1024, 525]],
      [121, 73, 128, [128, 77]],
      [480, 640, 1024, [768, 1024]],
      [1080, 1920, 1024, [576, 1024]],
      [500, 600, 1024, [853, 1024]],
      [1024, 1024, 1024, [1024, 1024]],
      [256, 256, 128, [128, 128]],
      [3, 4, 2, [2, 2]], // 1.5 rounds up
      [5, 8, 4, [3, 4]], // 2.5 rounds up
      [1, 1000, 1024, [1, 1024]],
      [243, 208, 1024, [1024, 877]],
    ];
    for (const [h, w, long, want] of cases) assert.deepEqual(getPreprocessShape(h, w, long), want, `${h}x${w} at ${long}`);
    assert.throws(() => getPreprocessShape(0, 5, 10));
  });

  for (const dir of fixtureDirs()) {
    it(`getPreprocessShape reproduces ${dir.split('/').pop()}'s meta.json input sizes`, () => {
      const meta = readMeta(dir);
      for (const s of [meta.sample1, meta.sample2]) assert.deepEqual(getPreprocessShape(s.original_size[0], s.original_size[1], meta.config.img), s.input_size);
    });
  }

  it('applyCoords and applyBoxes scale x by newW / W and y by newH / H', () => {
    const coords = applyCoords([10, 20, 124, 100], [101, 125], 128);
    const want = [10 * (128 / 125), 20 * (103 / 101), 124 * (128 / 125), 100 * (103 / 101)];
    want.forEach((v, i) => assert.ok(Math.abs(coords[i]! - v) < 1e-4, `coord ${i}: ${coords[i]} vs ${v}`));
    const boxes = new ResizeLongestSide(1024).applyBoxes([0, 0, 1021, 773, 5, 6, 7, 8], [773, 1021]);
    assert.equal(boxes.length, 8);
    assert.ok(Math.abs(boxes[2]! - 1024) < 1e-3 && Math.abs(boxes[3]! - 775) < 1e-3);
    assert.ok(Math.abs(boxes[4]! - 5 * (1024 / 1021)) < 1e-4 && Math.abs(boxes[7]! - 8 * (775 / 773)) < 1e-4);
    assert.throws(() => applyCoords([1, 2, 3], [10, 10], 10));
    assert.throws(() => applyBoxes([1, 2], [10, 10], 10));
  });

  it("pilBilinearResize is byte-identical to Pillow's BILINEAR resize (reducing, enlarging, mixed)", () => {
    for (const g of PIL_GOLDENS) {
      const out = pilBilinearResize(goldenSource(g.from[0], g.from[1]), g.to[1], g.to[0]);
      assert.equal(out.width, g.to[0]);
      assert.equal(out.height, g.to[1]);
      assert.equal(hex(out.data), g.hex, `${g.from.join('x')} -> ${g.to.join('x')}`);
    }
  });

  it('resizeImage: exact PIL when enlarging, sharp linear close to PIL when reducing, a copy at the same size', async () => {
    const small = smoothImage(125, 101, 1);
    const [h, w] = getPreprocessShape(101, 125, 128);
    const up = await resizeImage(small, h, w);
    assert.deepEqual([up.height, up.width], [103, 128]);
    assert.deepEqual(up.data, pilBilinearResize(small, h, w).data);

    const big = smoothImage(400, 300, 2);
    const down = await new ResizeLongestSide(128).applyImage(big);
    assert.deepEqual([down.height, down.width], [96, 128]);
    const ref = pilBilinearResize(big, 96, 128);
    let sum = 0;
    let max = 0;
    for (let i = 0; i < ref.data.length; i++) {
      const d = Math.abs(ref.data[i]! - down.data[i]!);
      sum += d;
      max = Math.max(max, d);
    }
    assert.ok(sum / ref.data.length < 0.6 && max <= 6, `sharp vs PIL: mean ${sum / ref.data.length}, max ${max}`);
    assert.deepEqual((await resizeImage(big, 96, 128, 'pil')).data, ref.data);

    const same = await resizeImage(small, 101, 125);
    assert.deepEqual(same.data, small.data);
    assert.notEqual(same.data, small.data);
  });

  it('resizeMask is nearest-neighbour with half-pixel centres and stays binary', () => {
    const m = { width: 4, height: 2, data: Uint8Array.from([0, 1, 0, 255, 1, 0, 0, 0]) };
    const up = resizeMask(m, 4, 8);
    assert.deepEqual([...up.data], [0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0]);
    const down = resizeMask(up, 2, 4);
    assert.deepEqual([...down.data], [0, 1, 0, 1, 1, 0, 0, 0]);
    const rng = new Rng(5);
    const big = { width: 97, height: 61, data: Uint8Array.from({ length: 97 * 61 }, () => (rng.next() < 0.3 ? 1 : 0)) };
    const r = new ResizeLongestSide(128).applyMask(big);
    assert.deepEqual([r.height, r.width], getPreprocessShape(61, 97, 128));
    assert.ok(r.data.every((v) => v === 0 || v === 1));
  });
});
