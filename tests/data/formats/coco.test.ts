import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openDataset } from '../../../shared/data/dataset.js';
import { DataError } from '../../../shared/data/errors.js';
import { rleCountsToString } from '../../../shared/data/formats/coco_rle.js';
import { DatasetScanError, scanDataset } from '../../../shared/data/scan.js';
import { encodeRgb, put, tempDir } from '../make_images.js';

const rows = (m: { width: number; height: number; data: Uint8Array }) =>
  Array.from({ length: m.height }, (_, y) => [...m.data.subarray(y * m.width, (y + 1) * m.width)].join(''));

const gray = (w: number, h: number) => encodeRgb(w, h, (x, y) => [x * 20, y * 20, 100]);

/** The compressed RLE of a 5x6 (h x w) mask: rows 0-1 of column 0, and row 4 of column 5. */
const COMPRESSED = '02k0O';

function cocoJson(extra: { annotations?: unknown[]; images?: unknown[] } = {}) {
  return JSON.stringify({
    images: [
      { id: 1, file_name: 'a.png', width: 8, height: 8 },
      { id: 2, file_name: 'b.png', width: 6, height: 5 },
      { id: 4, file_name: 'd.png', width: 4, height: 4 },
      { id: 5, file_name: 'e.png', width: 4, height: 4 },
      ...(extra.images ?? []),
    ],
    annotations: [
      { id: 10, image_id: 1, category_id: 1, iscrowd: 0, segmentation: [[1, 1, 6, 1, 6, 6, 1, 6]] },
      { id: 11, image_id: 1, category_id: 2, iscrowd: 0, segmentation: { size: [8, 8], counts: [56, 8] } },
      { id: 12, image_id: 2, category_id: 3, iscrowd: 0, segmentation: { size: [5, 6], counts: COMPRESSED } },
      { id: 13, image_id: 4, category_id: 1, iscrowd: 0, segmentation: [], bbox: [0, 0, 2, 2] },
      { id: 14, image_id: 5, category_id: 1, iscrowd: 1, segmentation: { size: [4, 4], counts: [0, 16] } },
      ...(extra.annotations ?? []),
    ],
    categories: [
      { id: 1, name: 'ring' },
      { id: 2, name: 'edge' },
      { id: 3, name: 'dots' },
    ],
  });
}

describe('COCO datasets', () => {
  const tmp = tempDir();
  let dir: string;
  before(async () => {
    dir = path.join(tmp.dir, 'clean');
    put(dir, 'a.png', await gray(8, 8));
    put(dir, 'b.png', await gray(6, 5));
    put(dir, 'd.png', await gray(4, 4));
    put(dir, 'e.png', await gray(4, 4));
    put(dir, '_annotations.coco.json', cocoJson());
  });
  after(tmp.remove);

  it('the compressed RLE of the fixture is what maskApi.c writes', () => {
    // counts [0, 2, 27, 1]: 27 = 0b11011 needs a second group (its bit 4 would read as a sign): 'k' '0';
    // 1 - 2 = -1: one group 0b11111 = 'O'.
    assert.equal(rleCountsToString([0, 2, 27, 1]), COMPRESSED);
  });

  it('auto-detects the JSON inside the directory and rasterises polygons and both RLE forms', async () => {
    const ds = await openDataset({ path: dir });
    assert.equal(ds.format, 'coco');
    assert.equal(ds.annotations, path.join(dir, '_annotations.coco.json'));
    assert.deepEqual(
      ds.samples.map((s) => s.id),
      ['a.png', 'b.png'],
    );
    assert.deepEqual(ds.problems, []);
    assert.deepEqual(
      ds.ignored.map((i) => path.basename(i.file)),
      ['d.png', 'e.png'],
    ); // bbox-only, crowd-only
    assert.equal(ds.categories.get(1), 'ring');
    const scan = await scanDataset(ds);
    assert.equal(scan.samples.length, 2);

    const a = await ds.load(ds.samples[0]!);
    assert.deepEqual([a.image.width, a.image.height], [8, 8]);
    assert.deepEqual(
      a.objects.map((o) => o.label),
      [1, 2],
    );
    assert.deepEqual(rows(a.objects[0]!), ['00000000', '01111100', '01111100', '01111100', '01111100', '01111100', '00000000', '00000000']);
    assert.deepEqual(rows(a.objects[1]!), Array(8).fill('00000001'));

    const b = await ds.load(ds.samples[1]!);
    assert.equal(b.objects.length, 1);
    assert.deepEqual(rows(b.objects[0]!), ['100000', '100000', '000000', '000000', '000001']);

    // readBytes / loadFromBytes: what a worker without the files does.
    const bytes = await ds.readBytes(ds.samples[1]!);
    const shipped = { ...bytes, image: Buffer.from(bytes.image), coco: JSON.parse(JSON.stringify(bytes.coco)) as typeof bytes.coco };
    const fromBytes = await ds.loadFromBytes(shipped);
    assert.deepEqual(rows(fromBytes.objects[0]!), rows(b.objects[0]!));
  });

  it('includes crowd annotations on request', async () => {
    const ds = await openDataset({ path: dir, includeCrowd: true });
    assert.deepEqual(
      ds.samples.map((s) => s.id),
      ['a.png', 'b.png', 'e.png'],
    );
    const e = await ds.load(ds.samples[2]!);
    assert.equal(e.objects[0]!.data.reduce((s, v) => s + v, 0), 16);
  });

  it('finds the annotation file given as the path, as an option, as <dir>.json and as ../annotations/instances_<dir>.json', async () => {
    const json = path.join(dir, '_annotations.coco.json');
    assert.equal((await openDataset({ path: json })).samples.length, 2);
    assert.equal((await openDataset({ path: dir, format: 'coco', annotations: json })).samples.length, 2);
    const std = path.join(tmp.dir, 'std');
    put(std, 'val2017/a.png', await gray(8, 8));
    put(std, 'val2017/b.png', await gray(6, 5));
    put(std, 'annotations/instances_val2017.json', cocoJson());
    const fromDir = await openDataset({ path: path.join(std, 'val2017') });
    assert.equal(fromDir.annotations, path.join(std, 'annotations/instances_val2017.json'));
    assert.equal(fromDir.root, path.join(std, 'val2017'));
    assert.equal((await scanDataset(fromDir)).samples.length, 2);
    const fromJson = await openDataset({ path: path.join(std, 'annotations/instances_val2017.json') });
    assert.equal(fromJson.root, path.join(std, 'val2017'));
    const sib = path.join(tmp.dir, 'sib');
    put(sib, 'images/a.png', await gray(8, 8));
    put(sib, 'images/b.png', await gray(6, 5));
    put(tmp.dir, 'sib.json', cocoJson());
    const fromSibling = await openDataset({ path: sib });
    assert.equal(fromSibling.root, path.join(sib, 'images'));
    assert.equal((await scanDataset(fromSibling)).samples.length, 2);
  });

  it('reports every annotation problem at once; skip keeps the good samples', async () => {
    const bad = path.join(tmp.dir, 'bad');
    put(bad, 'a.png', await gray(8, 8));
    put(bad, 'b.png', await gray(6, 5));
    put(bad, 'f.png', await gray(4, 4));
    put(bad, 'g.png', await gray(5, 5)); // declared 4x4
    put(bad, 'h.png', await gray(4, 4));
    put(
      bad,
      'coco.json',
      cocoJson({
        images: [
          { id: 6, file_name: 'f.png', width: 4, height: 4 },
          { id: 7, file_name: 'g.png', width: 4, height: 4 },
          { id: 8, file_name: 'h.png', width: 4, height: 4 },
          { id: 9, file_name: 'missing.png', width: 4, height: 4 },
        ],
        annotations: [
          { id: 20, image_id: 6, category_id: 1, segmentation: [[1, 1, 1.1, 1, 1.1, 1.1]] }, // rasterises to nothing
          { id: 21, image_id: 7, category_id: 1, segmentation: [[0, 0, 4, 0, 4, 4, 0, 4]] },
          { id: 22, image_id: 8, category_id: 1, segmentation: { size: [5, 5], counts: [0, 25] } }, // wrong size
          { id: 23, image_id: 99, category_id: 1, segmentation: [[0, 0, 4, 0, 4, 4]] }, // unknown image
          { id: 24, image_id: 9, category_id: 1, segmentation: [[0, 0, 4, 0, 4, 4]] },
          { id: 25, image_id: 1, category_id: 1, segmentation: [[0, 0, 1e9, 0, 4, 4]] }, // absurd coordinates: a.png is incomplete
        ],
      }),
    );
    const ds = await openDataset({ path: bad });
    await assert.rejects(scanDataset(ds, 'fail'), (e: unknown) => {
      assert.ok(e instanceof DatasetScanError);
      for (const what of ['annotation 22', 'annotation 23', 'annotation 25', 'f.png', 'g.png', 'missing.png']) assert.ok(e.message.includes(what), `${what} in:\n${e.message}`);
      return true;
    });
    const res = await scanDataset(ds, 'skip');
    // a.png has a valid polygon but also an invalid annotation: with one of its objects missing it is skipped too.
    assert.deepEqual(
      res.samples.map((s) => s.id),
      ['b.png'],
    );
    const byCode = (code: string) => res.skipped.filter((p) => p.code === code).map((p) => path.basename(p.file));
    assert.deepEqual(byCode('no_objects'), ['f.png']);
    assert.deepEqual(byCode('size_mismatch'), ['g.png']);
    assert.deepEqual(byCode('missing'), ['missing.png']);
    assert.deepEqual(byCode('bad_annotation'), ['coco.json', 'coco.json', 'coco.json']);
    assert.deepEqual(res.skippedIds.sort(), ['a.png', 'f.png', 'g.png', 'missing.png']);
    // h.png's only annotation was invalid, so h.png is not a sample at all (listed as ignored).
    assert.ok(ds.ignored.some((i) => path.basename(i.file) === 'h.png'));
    // load() of a bad sample throws a DataError naming the file.
    const g = ds.samples.find((s) => s.id === 'g.png')!;
    await assert.rejects(ds.load(g), (e: unknown) => e instanceof DataError && e.code === 'size_mismatch' && e.file.endsWith('g.png'));
  });

  it('reports a polygon of fewer than 3 points with its annotation id instead of dropping the image unseen', async () => {
    const short = path.join(tmp.dir, 'short');
    put(short, 'a.png', await gray(8, 8));
    put(short, 'p.png', await gray(8, 8));
    put(
      short,
      'coco.json',
      JSON.stringify({
        images: [
          { id: 1, file_name: 'a.png', width: 8, height: 8 },
          { id: 2, file_name: 'p.png', width: 8, height: 8 },
        ],
        annotations: [
          { id: 10, image_id: 1, category_id: 1, segmentation: [[1, 1, 6, 1, 6, 6]] },
          { id: 31, image_id: 2, category_id: 1, segmentation: [[1, 1, 6, 6]] },
        ],
      }),
    );
    const ds = await openDataset({ path: short });
    await assert.rejects(scanDataset(ds, 'fail'), (e: unknown) => {
      assert.ok(e instanceof DatasetScanError);
      assert.match(e.message, /annotation 31 \(image 'p\.png'\): polygon 0 has 2 points; a polygon needs at least 3/);
      return true;
    });
    const res = await scanDataset(ds, 'skip');
    assert.deepEqual(res.samples.map((s) => s.id), ['a.png']);
    // p.png is not a sample (its only annotation is invalid) and the report says why.
    assert.deepEqual(res.skipped.map((p) => [p.code, p.sampleId]), [['bad_annotation', 'p.png']]);
  });

  it('refuses file_name values that are absolute or climb out of the image directory', async () => {
    const escape = path.join(tmp.dir, 'escape');
    put(escape, 'a.png', await gray(8, 8));
    put(tmp.dir, 'outside.png', await gray(8, 8));
    const names = ['../outside.png', 'sub/../../outside.png', path.join(tmp.dir, 'outside.png'), 'C:\\Windows\\outside.png', '..\\outside.png'];
    put(
      escape,
      'coco.json',
      JSON.stringify({
        images: [{ id: 1, file_name: 'a.png', width: 8, height: 8 }, ...names.map((n, i) => ({ id: 2 + i, file_name: n, width: 8, height: 8 }))],
        annotations: [1, 2, 3, 4, 5, 6].map((image_id) => ({ id: 100 + image_id, image_id, category_id: 1, segmentation: [[1, 1, 6, 1, 6, 6]] })),
      }),
    );
    const ds = await openDataset({ path: escape });
    assert.deepEqual(ds.samples.map((s) => s.id), ['a.png']);
    const refused = ds.problems.filter((p) => /is absolute or leaves the image directory/.test(p.reason));
    assert.equal(refused.length, names.length, JSON.stringify(ds.problems));
    await assert.rejects(scanDataset(ds, 'fail'), /file_name "\.\.\/outside\.png" is absolute or leaves the image directory/);
    const res = await scanDataset(ds, 'skip');
    assert.deepEqual(res.samples.map((s) => s.id), ['a.png']);
  });

  it('clear errors for a broken or ambiguous annotation file', async () => {
    const broken = path.join(tmp.dir, 'broken');
    put(broken, 'x.json', '{ "images": [ ');
    await assert.rejects(openDataset({ path: broken }), (e: unknown) => e instanceof DataError && e.code === 'bad_annotation' && /not valid JSON/.test(e.message));
    put(broken, 'x.json', '{ "images": [{ "id": 1 }] }');
    await assert.rejects(openDataset({ path: broken }), (e: unknown) => e instanceof DataError && /images\.0\.file_name/.test(e.message));
    put(broken, 'y.json', '{}');
    await assert.rejects(openDataset({ path: broken }), (e: unknown) => e instanceof DataError && e.code === 'layout' && /x\.json, y\.json/.test(e.message));
  });
});
