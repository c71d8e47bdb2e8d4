#!/usr/bin/env node
// `npm start`'s pre-step: the compiled CLI (dist/) is used as is when it is newer than every source
// file tsc compiles (a stat of each, a few milliseconds); only a missing or stale dist/ is rebuilt, with
// a line saying why, so that starting does not cost a silent 40-second compile every time.
// Plain JavaScript because it runs before anything is compiled. `--check`: report only (exit 1 when a
// build is needed), for tests and scripts.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';

/** The build output whose age stands for the build's (tsc rewrites every output file on each build). */
const BUILT_ENTRY = path.join('dist', 'bin', 'sam-lora.js');

// Top-level source directories named by tsconfig.json's `include` globs ("bin/**/*.ts" -> "bin").
function sourceDirs(root) {
  const tsconfig = JSON.parse(readFileSync(path.join(root, 'tsconfig.json'), 'utf8'));
  const include = Array.isArray(tsconfig.include) ? tsconfig.include : [];
  return [...new Set(include.map((p) => String(p).split('/')[0]).filter((d) => d && !d.includes('*')))];
}

/** The newest .ts/.tsx file under dir (recursively), or undefined when there is none. */
function newestSource(dir) {
  let newest;
  if (!existsSync(dir)) return newest;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    const candidate = entry.isDirectory() ? newestSource(p) : /\.tsx?$/.test(entry.name) ? { file: p, mtimeMs: statSync(p).mtimeMs } : undefined;
    if (candidate && (!newest || candidate.mtimeMs > newest.mtimeMs)) newest = candidate;
  }
  return newest;
}

/** Why dist/ must be (re)built, or undefined when it is up to date. */
function staleReason(root) {
  const entry = path.join(root, BUILT_ENTRY);
  if (!existsSync(entry)) return `${BUILT_ENTRY} is missing`;
  const builtMs = statSync(entry).mtimeMs;
  const candidates = [{ file: path.join(root, 'tsconfig.json'), mtimeMs: statSync(path.join(root, 'tsconfig.json')).mtimeMs }];
  for (const dir of sourceDirs(root)) {
    const n = newestSource(path.join(root, dir));
    if (n) candidates.push(n);
  }
  const newer = candidates.filter((c) => c.mtimeMs > builtMs).sort((a, b) => b.mtimeMs - a.mtimeMs)[0];
  return newer ? `${path.relative(root, newer.file)} is newer than ${BUILT_ENTRY}` : undefined;
}

const root = process.cwd();
const reason = staleReason(root);
if (process.argv.includes('--check')) {
  process.stdout.write(reason ? `stale: ${reason}\n` : 'fresh\n');
  process.exit(reason ? 1 : 0);
}
if (reason) {
  process.stderr.write(`sam-lora: ${reason}: building dist/ first (tsc, about 40 s on 2 cores)...\n`);
  const tsc = createRequire(path.join(root, 'package.json')).resolve('typescript/bin/tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    process.stderr.write(`sam-lora: the build failed (exit ${r.status ?? r.signal}); fix the errors above, or run npm run build\n`);
    process.exit(1);
  }
  // As scripts/build.mjs does: `npx sam-lora` runs the built CLI itself, which tsc leaves non-executable.
  if (existsSync(path.join(root, BUILT_ENTRY))) chmodSync(path.join(root, BUILT_ENTRY), 0o755);
}
