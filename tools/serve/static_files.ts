// The web demo's page: the files of tools/serve/static/, served as they are (plain HTML, JS
// and CSS, no build step). tsc compiles only .ts files into dist/, so the folder is found from the
// package root (the directory holding package.json), which is the same for the sources and dist/.
// The files are read once at start-up; only those names are served, so no request path ever
// reaches the file system.

import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { packageRoot } from '../../shared/fs/package_root.js';

export interface StaticFile {
  body: Buffer;
  type: string;
  etag: string;
}

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

export function staticDir(): string {
  return path.join(packageRoot(), 'tools', 'serve', 'static');
}

/** URL path ("/", "/app.js", ...) -> file, for every file of the folder with a known type. */
export function loadStaticFiles(dir = staticDir()): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  for (const name of readdirSync(dir)) {
    const type = TYPES[path.extname(name).toLowerCase()];
    if (!type) continue;
    const body = readFileSync(path.join(dir, name));
    const file = { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
    files.set(`/${name}`, file);
    if (name === 'index.html') files.set('/', file);
  }
  if (!files.has('/')) throw new Error(`${dir}: no index.html (the web demo's page)`);
  return files;
}
