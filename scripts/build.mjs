#!/usr/bin/env node
// The build (`npm run build`, `npm ci`'s prepare, `npm start` when dist/ is stale): tsc, then the
// CLI made executable. tsc writes files without the execute bit, and `npx sam-lora` runs
// dist/bin/sam-lora.js (package.json "bin") directly: on a fresh clone it was "Permission denied".
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';

const root = process.cwd();
const tsc = createRequire(path.join(root, 'package.json')).resolve('typescript/bin/tsc');
const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json', ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
if (r.status !== 0) process.exit(r.status ?? 1);
const cli = path.join(root, 'dist', 'bin', 'sam-lora.js');
if (existsSync(cli)) chmodSync(cli, 0o755);
