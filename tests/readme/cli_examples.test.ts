// README's command examples work as written after `npm ci`: in the checkout they say `npx sam-lora`
// (package.json's bin; sam-lora itself is not on the PATH), and `npx sam-lora` runs the CLI. Only the
// cluster sections (container image, Kubernetes, Slurm, systemd), where the install puts sam-lora on
// the PATH, call it bare.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from '../helpers/fixtures.js';

const ON_PATH_SECTIONS = new Set(['### Container image', '### Kubernetes', '### Slurm']);

/** Each code-block line of README.md that runs sam-lora, with the section it is in. */
function readmeInvocations(): { line: number; text: string; onPath: boolean }[] {
  const out: { line: number; text: string; onPath: boolean }[] = [];
  let inBlock = false;
  let sub = '';
  readFileSync(path.join(repoRoot(), 'README.md'), 'utf8')
    .split('\n')
    .forEach((text, i) => {
      if (text.startsWith('```')) inBlock = !inBlock;
      else if (!inBlock && /^#{2,3} /.test(text)) sub = text;
      const code = text.split(' #')[0]!;
      if (inBlock && !text.trimStart().startsWith('#') && /(^|[\s(=])sam-lora [a-z-]/.test(code)) out.push({ line: i + 1, text: code, onPath: ON_PATH_SECTIONS.has(sub) });
    });
  return out;
}

describe('README command examples', () => {
  it('say npx sam-lora in the checkout', () => {
    const found = readmeInvocations();
    assert.ok(found.filter((f) => !f.onPath).length >= 15, `README's examples (found ${found.length})`);
    const bare = found.filter((f) => !f.onPath && !/(^|\s)npx sam-lora /.test(f.text));
    assert.deepEqual(bare, [], 'a bare `sam-lora` outside the cluster sections does not run after npm ci');
  });

  it('npx sam-lora runs the built CLI in the checkout', () => {
    const r = spawnSync('npx', ['sam-lora', '--help'], { cwd: repoRoot(), encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^usage: sam-lora <command> \[options\]/);
    assert.doesNotMatch(r.stderr, /Unknown project config/, 'no npm config warning');
  });
});
