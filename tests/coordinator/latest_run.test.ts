import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { latestRunDir } from '../../coordinator/latest_run.js';

describe('latestRunDir', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'samlora-latest-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  const run = (name: string, checkpointedAt?: number): void => {
    mkdirSync(path.join(root, name, 'checkpoints'), { recursive: true });
    if (checkpointedAt === undefined) return;
    const pointer = path.join(root, name, 'checkpoints', 'latest.json');
    writeFileSync(pointer, '{}');
    utimesSync(pointer, checkpointedAt, checkpointedAt);
  };

  it('is undefined for a missing directory and for runs that never checkpointed', () => {
    assert.equal(latestRunDir(path.join(root, 'nope')), undefined);
    run('20260101-000000');
    writeFileSync(path.join(root, 'stray-file'), '');
    assert.equal(latestRunDir(root), undefined);
  });

  it('is the run whose checkpoint was written last, whatever the names sort as', () => {
    run('20260101-000001', 1_000);
    run('zz-named-run', 3_000);
    run('20260102-000000', 2_000);
    run('20260103-000000'); // newest name, no checkpoint
    assert.equal(latestRunDir(root), path.join(root, 'zz-named-run'));
  });
});
