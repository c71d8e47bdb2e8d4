// npm start's pre-step (scripts/ensure_build.mjs): dist/ is used as is when newer than every source
// file, rebuilt (with a line saying why) when missing or stale. Run in a tiny project of its own.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { repoRoot } from '../helpers/fixtures.js';

const SCRIPT = path.join(repoRoot(), 'scripts', 'ensure_build.mjs');

function ensureBuild(cwd: string, args: string[] = []): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [SCRIPT, ...args], { cwd, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('scripts/ensure_build.mjs', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'samlora-ensure-build-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const t0 = Date.now() / 1000 - 1000;
  writeFileSync(path.join(dir, 'package.json'), '{"name":"t","type":"module"}');
  writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { outDir: 'dist', rootDir: '.', module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', types: [] }, include: ['bin/**/*.ts', 'shared/**/*.ts'] }));
  mkdirSync(path.join(dir, 'bin'));
  mkdirSync(path.join(dir, 'shared', 'deep'), { recursive: true });
  writeFileSync(path.join(dir, 'bin', 'sam-lora.ts'), 'export const built = 1;\n');
  writeFileSync(path.join(dir, 'shared', 'deep', 'x.ts'), 'export const x = 2;\n');
  utimesSync(path.join(dir, 'tsconfig.json'), t0, t0);
  utimesSync(path.join(dir, 'bin', 'sam-lora.ts'), t0, t0);
  utimesSync(path.join(dir, 'shared', 'deep', 'x.ts'), t0, t0);
  symlinkSync(path.join(repoRoot(), 'node_modules'), path.join(dir, 'node_modules'));

  it('builds when dist/ is missing, saying why, and is then fresh', () => {
    assert.deepEqual(ensureBuild(dir, ['--check']), { status: 1, stdout: 'stale: dist/bin/sam-lora.js is missing\n', stderr: '' });
    const r = ensureBuild(dir);
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.match(r.stderr, /^sam-lora: dist\/bin\/sam-lora\.js is missing: building dist\/ first/);
    assert.equal(ensureBuild(dir, ['--check']).stdout, 'fresh\n');
    // `npx sam-lora` runs the built file itself: tsc leaves it without the execute bit.
    assert.equal(statSync(path.join(dir, 'dist', 'bin', 'sam-lora.js')).mode & 0o111, 0o111, 'the built CLI is executable');
    const quiet = ensureBuild(dir);
    assert.deepEqual([quiet.status, quiet.stderr], [0, ''], 'fresh: starts at once, prints nothing');
  });

  it('is stale when any source file (at any depth) or tsconfig.json is newer than the build', () => {
    const later = Date.now() / 1000 + 60;
    utimesSync(path.join(dir, 'shared', 'deep', 'x.ts'), later, later);
    assert.deepEqual(ensureBuild(dir, ['--check']), { status: 1, stdout: 'stale: shared/deep/x.ts is newer than dist/bin/sam-lora.js\n', stderr: '' });
    utimesSync(path.join(dir, 'shared', 'deep', 'x.ts'), t0, t0);
    utimesSync(path.join(dir, 'tsconfig.json'), later, later);
    assert.match(ensureBuild(dir, ['--check']).stdout, /^stale: tsconfig\.json is newer/);
  });

  it('exits 1 with a message when the build fails', () => {
    writeFileSync(path.join(dir, 'bin', 'sam-lora.ts'), 'export const built: number = "not a number";\n');
    const r = ensureBuild(dir);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /the build failed \(exit \d+\); fix the errors above, or run npm run build/);
  });
});
