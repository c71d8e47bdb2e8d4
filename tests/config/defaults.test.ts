import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { DEFAULT_CONFIG_YAML, loadConfig } from '../../shared/config/index.js';
import { repoRoot } from '../helpers/fixtures.js';

describe('embedded configuration', () => {
  it('README quotes the embedded configuration of the demo job verbatim', () => {
    const readme = readFileSync(path.join(repoRoot(), 'README.md'), 'utf8');
    assert.ok(readme.includes('```yaml\n' + DEFAULT_CONFIG_YAML + '```'), 'README.md must quote DEFAULT_CONFIG_YAML (shared/config/defaults.ts) in a yaml block, unchanged');
  });

  it("is the bundled base with the reference's encoder adapters (q, v) and mask-decoder attention adapters, its weights frozen, on the demo dataset", async () => {
    const c = await loadConfig(undefined, {}, { checkPaths: false });
    assert.equal(c.model.checkpoint, null);
    assert.equal(c.model.variant, 'auto');
    assert.deepEqual(c.lora.targets, ['q', 'v']);
    assert.equal(c.lora.rank, 16);
    assert.deepEqual(c.lora.decoderTargets, ['q_proj', 'k_proj', 'v_proj', 'out_proj']);
    assert.equal(c.train.trainDecoder, false);
    assert.equal(c.data.train, null);
  });
});
