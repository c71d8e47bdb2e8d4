import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import sharp from 'sharp';
import { generateDemoSample, writeDemoDataset } from '../../shared/data/demo_data.js';
import { maskBounds } from '../../shared/data/prompts.js';
import { repoRoot } from '../helpers/fixtures.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-demo-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function listTree(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(path.relative(root, p));
    }
  };
  walk(root);
  return out.sort();
}

/** true when some background pixel cannot reach the border through background (4-connected). */
function hasHole(mask: Uint8Array, size: number): boolean {
  const seen = new Uint8Array(size * size);
  const stack: number[] = [];
  for (let i = 0; i < size; i++) for (const p of [i, (size - 1) * size + i, i * size, i * size + size - 1]) if (!mask[p] && !seen[p]) { seen[p] = 1; stack.push(p); }
  while (stack.length) {
    const p = stack.pop()!;
    const x = p % size;
    const y = (p - x) / size;
    for (const [nx, ny] of [[x + 1, y], [x - 1, y], [x, y + 1], [x, y - 1]] as const) {
      const q = ny * size + nx;
      if (nx >= 0 && ny >= 0 && nx < size && ny < size && !mask[q] && !seen[q]) { seen[q] = 1; stack.push(q); }
    }
  }
  for (let p = 0; p < size * size; p++) if (!mask[p] && !seen[p]) return true;
  return false;
}

describe('demo data', () => {
  // How quickly (target: under 4 s) is measured by bench/cli_latency.ts.
  it('generates the default dataset in the reference layout', async () => {
    const out = path.join(tmp, 'default');
    const summary = await writeDemoDataset(out, { seed: 7 });
    assert.deepEqual(summary.counts, { train: 48, test: 12 });
    assert.deepEqual(summary.kinds, { ring: 20, ellipse: 20, polygon: 20 });
    const files = listTree(out);
    assert.equal(files.length, 2 * 60);
    for (const split of ['train', 'test']) {
      const images = readdirSync(path.join(out, split, 'images')).sort();
      const masks = readdirSync(path.join(out, split, 'masks')).sort();
      assert.deepEqual(images, masks, 'images and masks share base names');
      assert.equal(images.length, split === 'train' ? 48 : 12);
      assert.ok(images.every((f) => /^\d{4}_(ring|ellipse|polygon)\.png$/.test(f)));
    }
    assert.deepEqual(files, [...summary.files].sort());
  });

  it('masks are exactly binary 0/255 single-channel PNGs, non-empty, 44-84% of the image wide, with a hole', async () => {
    const out = path.join(tmp, 'default');
    for (const name of readdirSync(path.join(out, 'test', 'masks'))) {
      const file = path.join(out, 'test', 'masks', name);
      const meta = await sharp(file).metadata();
      assert.deepEqual([meta.format, meta.channels, meta.depth], ['png', 1, 'uchar']);
      const { data, info } = await sharp(file).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
      assert.equal(info.channels, 1);
      assert.deepEqual([info.width, info.height], [256, 256]);
      let on = 0;
      for (const v of data) {
        assert.ok(v === 0 || v === 255, `${name}: value ${v}`);
        if (v) on++;
      }
      assert.ok(on > 0.01 * 256 * 256, `${name}: ${on} pixels`);
      const img = await sharp(path.join(out, 'test', 'images', name)).raw().toBuffer({ resolveWithObject: true });
      assert.deepEqual([img.info.width, img.info.height, img.info.channels], [256, 256, 3]);
    }
    for (let i = 0; i < 30; i++) {
      const s = generateDemoSample(3, 'train', i, 128);
      const b = maskBounds(s.mask)!;
      const extent = Math.max(b[2] - b[0] + 1, b[3] - b[1] + 1);
      assert.ok(extent >= 0.3 * 128 && extent <= 0.86 * 128, `${s.name}: extent ${extent}`);
      assert.ok(hasHole(s.mask.data, 128), `${s.name} has no hole`);
      assert.ok(b[0] > 0 && b[1] > 0 && b[2] < 127 && b[3] < 127, `${s.name} touches the border`);
    }
    const ring = generateDemoSample(3, 'train', 0, 128);
    assert.equal(ring.kind, 'ring');
    const rb = maskBounds(ring.mask)!;
    const cx = Math.round((rb[0] + rb[2]) / 2);
    const cy = Math.round((rb[1] + rb[3]) / 2);
    assert.equal(ring.mask.data[cy * 128 + cx], 0, 'a ring has a hole');
  });

  it('is byte-identical for the same seed and different for another, independent of counts', async () => {
    const a = path.join(tmp, 'a');
    const b = path.join(tmp, 'b');
    const c = path.join(tmp, 'c');
    await writeDemoDataset(a, { seed: 11, train: 6, test: 3, size: 96 });
    await writeDemoDataset(b, { seed: 11, train: 6, test: 3, size: 96 });
    await writeDemoDataset(c, { seed: 12, train: 6, test: 3, size: 96 });
    const files = listTree(a);
    assert.deepEqual(listTree(b), files);
    for (const f of files) assert.ok(readFileSync(path.join(a, f)).equals(readFileSync(path.join(b, f))), `${f} differs`);
    const differing = files.filter((f) => !readFileSync(path.join(a, f)).equals(readFileSync(path.join(c, f))));
    assert.equal(differing.length, files.length);
    const d = path.join(tmp, 'd');
    await writeDemoDataset(d, { seed: 11, train: 2, test: 1, size: 96 });
    for (const f of listTree(d)) assert.ok(readFileSync(path.join(a, f)).equals(readFileSync(path.join(d, f))));
  });

  it('refuses to write over an existing split unless forced', async () => {
    const out = path.join(tmp, 'busy');
    mkdirSync(path.join(out, 'train'), { recursive: true });
    writeFileSync(path.join(out, 'train', 'keep.txt'), 'x');
    await assert.rejects(writeDemoDataset(out, { train: 1, test: 1, size: 32 }), /--force/);
    await writeDemoDataset(out, { train: 1, test: 1, size: 32 }, true);
    assert.equal(listTree(out).length, 4);
  });

  it('sam-lora demo-data writes the dataset and reports usage errors', () => {
    const out = path.join(tmp, 'cmd');
    const cli = path.join(repoRoot(), 'dist', 'bin', 'sam-lora.js');
    const run = (...args: string[]) => spawnSync(process.execPath, [cli, 'demo-data', ...args], { encoding: 'utf8' });
    const ok = run('--out', out, '--seed', '4', '--train', '3', '--test', '2', '--size', '64');
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /wrote 3 train \+ 2 test images/);
    assert.equal(listTree(out).length, 10);
    assert.equal(run('--out', out).status, 1, 'existing output without --force');
    assert.equal(run('--out', out, '--train', '1', '--test', '1', '--force').status, 0);
    assert.equal(listTree(out).length, 4);
    for (const bad of [['--seed', '4'], ['--out', out, '--size', 'big'], ['--out', out, '--size', '8'], ['--out', out, '--bogus'], ['--out', out, 'extra']]) {
      const r = run(...bad);
      assert.equal(r.status, 2, `${bad.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /usage: sam-lora demo-data/);
    }
    const help = run('--help');
    assert.equal(help.status, 0);
    assert.match(help.stdout, /--train N/);
    assert.match(spawnSync(process.execPath, [cli, '--help'], { encoding: 'utf8' }).stdout, /demo-data/);
  });
});
