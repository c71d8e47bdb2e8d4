import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { cliProgram, resumeCommand, resumeHint, shellQuote } from '../../bin/resume_hint.js';
import { repoRoot } from '../helpers/fixtures.js';

describe('resume hint', () => {
  it('replaces the run-dir and resume flags of the command as given with --run-dir DIR --resume', () => {
    assert.equal(resumeCommand('npx sam-lora', ['train', '--epochs', '3', '--no-dashboard'], 'runs/20260101-000000'), 'npx sam-lora train --epochs 3 --no-dashboard --run-dir runs/20260101-000000 --resume');
    assert.equal(
      resumeCommand('sam-lora', ['coordinator', '--run-dir', 'old', '--auto-resume', '--listen', '0.0.0.0:50051', '--run-dir=x', '--resume'], '/r/run 1'),
      "sam-lora coordinator --listen 0.0.0.0:50051 --run-dir '/r/run 1' --resume",
    );
  });

  it('quotes words a shell would split or expand', () => {
    assert.equal(shellQuote('train.lr=1e-3'), 'train.lr=1e-3');
    assert.equal(shellQuote("it's $HOME"), `'it'\\''s $HOME'`);
  });

  it('is printed for a run that stopped or failed with a checkpoint, not for a completed one', () => {
    const latest = 'runs/a/checkpoints/step-00000002';
    assert.equal(resumeHint({ status: 'stopped', checkpoints: { latest, best: null, final: null } }, 'runs/a', ['train'], 'npx sam-lora'), 'run directory: runs/a\nresume with:   npx sam-lora train --run-dir runs/a --resume\n');
    assert.match(resumeHint({ status: 'failed', checkpoints: { latest, best: null, final: null } }, 'runs/a', ['train'], 'sam-lora'), /^run directory: runs\/a\n/);
    assert.equal(resumeHint({ status: 'completed', checkpoints: { latest, best: null, final: latest } }, 'runs/a', ['train']), '');
    assert.equal(resumeHint({ status: 'stopped', checkpoints: { latest: null, best: null, final: null } }, 'runs/a', ['train']), '', 'nothing to resume from');
  });

  it('says npx sam-lora when the CLI runs from the checkout it is started in', () => {
    const script = path.join(repoRoot(), 'dist', 'bin', 'sam-lora.js');
    assert.equal(cliProgram(script, repoRoot()), 'npx sam-lora');
    assert.equal(cliProgram(script, path.parse(repoRoot()).root), 'sam-lora');
  });
});
