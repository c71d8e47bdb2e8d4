import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { ElfError, elfNeeded } from '../../doctor/elf_needed.js';
import { ortNativeDir } from '../../shared/graph/runtime.js';
import { fakeElfLibrary } from '../helpers/fake_elf.js';

describe('elfNeeded', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'samlora-elf-'));

  it('reads the DT_NEEDED entries in order', () => {
    const file = path.join(dir, 'libfake.so');
    fakeElfLibrary(file, ['libcudart.so.12', 'libcudnn.so.9', 'libc.so.6']);
    assert.deepEqual(elfNeeded(file), ['libcudart.so.12', 'libcudnn.so.9', 'libc.so.6']);
  });

  it("reads onnxruntime's own library", { skip: process.platform !== 'linux' || process.arch !== 'x64' ? 'linux x64 only' : false }, () => {
    const needed = elfNeeded(path.join(ortNativeDir()!, 'libonnxruntime.so.1'));
    assert.ok(needed.includes('libc.so.6'), needed.join(', '));
  });

  it('refuses what is not an ELF64 library, and offsets outside the file', () => {
    const text = path.join(dir, 'text.so');
    writeFileSync(text, 'not a library at all, but long enough to hold a header: '.repeat(4));
    assert.throws(() => elfNeeded(text), (e: unknown) => e instanceof ElfError && /no ELF magic/.test(e.message) && e.message.includes(text));
    const short = path.join(dir, 'short.so');
    writeFileSync(short, Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1]));
    assert.throws(() => elfNeeded(short), /the header .* outside the 6-byte file/);
    // A valid library cut before its dynamic section.
    const whole = path.join(dir, 'whole.so');
    fakeElfLibrary(whole, ['libx.so.1']);
    const cut = path.join(dir, 'cut.so');
    writeFileSync(cut, readFileSync(whole).subarray(0, 200));
    assert.throws(() => elfNeeded(cut), /the dynamic section .* outside the 200-byte file/);
  });
});
