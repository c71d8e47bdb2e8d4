import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { findLibraries, parseLdconfig } from '../../doctor/host_libraries.js';

const LDCONFIG = `3 libs found in cache \`/etc/ld.so.cache'
\tlibcudart.so.12 (libc6,x86-64) => /usr/local/cuda-12.6/lib64/libcudart.so.12
\tlibcudart.so.12 (libc6) => /usr/lib32/libcudart.so.12
\tlibcudnn.so.9 (libc6,x86-64, OS ABI: Linux 3.2.0) => /usr/lib/x86_64-linux-gnu/libcudnn.so.9
`;

describe('host libraries', () => {
  it('parses the loader cache, first 64-bit entry per soname', () => {
    const m = parseLdconfig(LDCONFIG);
    assert.equal(m.get('libcudart.so.12'), '/usr/local/cuda-12.6/lib64/libcudart.so.12');
    assert.equal(m.get('libcudnn.so.9'), '/usr/lib/x86_64-linux-gnu/libcudnn.so.9');
    assert.equal(m.size, 2);
  });

  it('searches the extra directories, then LD_LIBRARY_PATH, then the cache', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'samlora-libs-'));
    const a = path.join(root, 'a');
    const b = path.join(root, 'b');
    mkdirSync(a);
    mkdirSync(b);
    writeFileSync(path.join(a, 'libcudart.so.12'), '');
    writeFileSync(path.join(b, 'libcublas.so.12'), '');
    const found = findLibraries(['libcudart.so.12', 'libcublas.so.12', 'libcudnn.so.9', 'libcufft.so.11'], { extraDirs: [a], ldLibraryPath: `${b}:`, ldconfig: LDCONFIG });
    assert.deepEqual(found, [
      { soname: 'libcudart.so.12', path: path.join(a, 'libcudart.so.12') },
      { soname: 'libcublas.so.12', path: path.join(b, 'libcublas.so.12') },
      { soname: 'libcudnn.so.9', path: '/usr/lib/x86_64-linux-gnu/libcudnn.so.9' },
      { soname: 'libcufft.so.11', path: null },
    ]);
  });
});
