// Where the dynamic loader would find a shared library on this host: LD_LIBRARY_PATH first, then
// the loader cache (`ldconfig -p`), as ld.so searches. Used to say which CUDA libraries the CUDA
// provider needs are present before loading it fails on the first missing one.

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';

/** `ldconfig -p` output -> soname -> first path (x86-64 entries, or those without an arch tag). */
export function parseLdconfig(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\s*(\S+)\s+\(([^)]*)\)\s+=>\s+(\S.*)$/.exec(line);
    if (!m) continue;
    const [, soname, tags, file] = m as unknown as [string, string, string, string];
    if (/x86-64|^libc6$/.test(tags) && !out.has(soname)) out.set(soname, file.trim());
  }
  return out;
}

export interface LibrarySearch {
  /** LD_LIBRARY_PATH as the process has it. */
  ldLibraryPath?: string;
  /** `ldconfig -p` output; undefined when ldconfig could not be run. */
  ldconfig?: string;
  /** Searched first (the directory of the library that needs them: its RUNPATH is $ORIGIN). */
  extraDirs?: readonly string[];
}

export interface FoundLibrary {
  soname: string;
  /** Where the loader would find it, or null. */
  path: string | null;
}

export function findLibraries(sonames: readonly string[], s: LibrarySearch): FoundLibrary[] {
  const dirs = [...(s.extraDirs ?? []), ...(s.ldLibraryPath ?? '').split(path.delimiter).filter(Boolean)];
  const cache = parseLdconfig(s.ldconfig ?? '');
  return sonames.map((soname) => {
    const dir = dirs.find((d) => existsSync(path.join(d, soname)));
    return { soname, path: dir ? path.join(dir, soname) : (cache.get(soname) ?? null) };
  });
}

/** `ldconfig -p` (bounded), or undefined when there is none (some containers, non-glibc hosts). */
export function readLdconfig(timeoutMs = 5000): Promise<string | undefined> {
  const candidates = ['/sbin/ldconfig', '/usr/sbin/ldconfig', 'ldconfig'];
  const attempt = (i: number): Promise<string | undefined> =>
    i >= candidates.length
      ? Promise.resolve(undefined)
      : new Promise((resolve) => {
          execFile(candidates[i]!, ['-p'], { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 2 ** 20, encoding: 'utf8' }, (err, stdout) => {
            if (err) resolve(attempt(i + 1));
            else resolve(stdout);
          });
        });
  return attempt(0);
}
