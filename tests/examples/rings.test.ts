// examples/rings.yaml, the README's real-photo example: it loads, names the bundled base model and
// points at the reference's ring photos beside the repository (../shared/datasets/rings).

import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../../shared/config/index.js';
import { repoRoot } from '../helpers/fixtures.js';

describe('examples/rings.yaml', () => {
  it('loads: the bundled base, the ring photos split by the dataset itself, an encoder-only LoRA', async () => {
    const root = repoRoot();
    const c = await loadConfig(path.join(root, 'examples', 'rings.yaml'), {}, { checkPaths: false });
    assert.equal(c.model.checkpoint, null);
    assert.equal(c.data.train, path.resolve(root, '..', 'shared', 'datasets', 'rings', 'train'));
    assert.equal(c.data.test, path.resolve(root, '..', 'shared', 'datasets', 'rings', 'test'));
    assert.equal(c.checkpoint.dir, path.join(root, 'runs'));
    assert.equal(c.train.trainDecoder, false);
  });
});
