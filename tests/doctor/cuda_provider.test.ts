import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { cudaProviderStatus, EXPECTED_CUDA12_DEPENDENCIES, PROVIDER_LIBRARY, PROVIDERS_SHARED_LIBRARY } from '../../doctor/cuda_provider.js';
import { fakeElfLibrary } from '../helpers/fake_elf.js';

function host(libs: readonly string[]): { nativeDir: string; libDir: string } {
  const root = mkdtempSync(path.join(tmpdir(), 'samlora-cudahost-'));
  const nativeDir = path.join(root, 'ort');
  const libDir = path.join(root, 'lib');
  mkdirSync(nativeDir);
  mkdirSync(libDir);
  for (const l of libs) writeFileSync(path.join(libDir, l), '');
  return { nativeDir, libDir };
}

describe('CUDA provider status', () => {
  it('not installed: says how to install it and what it will need, each with a fix', () => {
    const h = host([]);
    const s = cudaProviderStatus(h.nativeDir, { ldLibraryPath: h.libDir, ldconfig: '' });
    assert.equal(s.library, null);
    assert.equal(s.dependencySource, 'expected for onnxruntime 1.29 (CUDA 12 build)');
    assert.deepEqual(s.dependencies.map((d) => d.soname), [...EXPECTED_CUDA12_DEPENDENCIES, PROVIDERS_SHARED_LIBRARY, 'libcuda.so.1']);
    assert.ok(s.dependencies.every((d) => d.path === null && d.fix));
    assert.match(s.problems[0]!, /not installed .*npm run install:cuda after npm ci/);
    assert.ok(s.problems.some((p) => /^libcudnn\.so\.9 not found by the loader: install cuDNN 9 for CUDA 12/.test(p)));
    // The companion library is covered by the install problem.
    assert.ok(!s.problems.some((p) => p.startsWith(PROVIDERS_SHARED_LIBRARY)));
    assert.equal(s.cuda13Only, undefined);
  });

  it("installed: reads the provider's own dependencies and names only the missing ones", () => {
    const h = host(['libcudart.so.12', 'libcublas.so.12', 'libcuda.so.1']);
    fakeElfLibrary(path.join(h.nativeDir, PROVIDER_LIBRARY), ['libcublas.so.12', 'libcudnn.so.9', 'libcudart.so.12', PROVIDERS_SHARED_LIBRARY, 'libstdc++.so.6', 'libc.so.6']);
    writeFileSync(path.join(h.nativeDir, PROVIDERS_SHARED_LIBRARY), '');
    const s = cudaProviderStatus(h.nativeDir, { ldLibraryPath: h.libDir, ldconfig: '' });
    assert.equal(s.library, path.join(h.nativeDir, PROVIDER_LIBRARY));
    assert.equal(s.dependencySource, 'provider library');
    assert.deepEqual(
      s.dependencies.map((d) => [d.soname, d.path !== null]),
      [
        ['libcublas.so.12', true],
        ['libcudnn.so.9', false],
        ['libcudart.so.12', true],
        [PROVIDERS_SHARED_LIBRARY, true],
        ['libcuda.so.1', true],
      ],
    );
    assert.deepEqual(s.cudaRuntimes, [12]);
    assert.equal(s.problems.length, 1);
    assert.match(s.problems[0]!, /^libcudnn\.so\.9 not found by the loader: install cuDNN 9 for CUDA 12: apt install libcudnn9-cuda-12, or pip install nvidia-cudnn-cu12/);
  });

  it('a host with only CUDA 13 is recognised and told what it needs', () => {
    const h = host(['libcudart.so.13', 'libcublas.so.13', 'libcuda.so.1']);
    fakeElfLibrary(path.join(h.nativeDir, PROVIDER_LIBRARY), ['libcublas.so.12', 'libcudart.so.12', 'libcudnn.so.9']);
    const s = cudaProviderStatus(h.nativeDir, { ldLibraryPath: h.libDir, ldconfig: '' });
    assert.deepEqual(s.cudaRuntimes, [13]);
    assert.match(s.cuda13Only!, /CUDA 13 runtime \(libcudart\.so\.13\) but not CUDA 12.*CUDA 12 only.*install the CUDA 12 libraries beside CUDA 13/);
    assert.equal(s.problems[0], s.cuda13Only);
    // The CUDA 12 set is covered by that explanation; cuDNN is named on its own.
    assert.deepEqual(s.problems.slice(1).map((p) => p.split(' ')[0]), ['libcudnn.so.9']);
  });

  it('CUDA 12 found through the loader cache is not a CUDA-13-only host', () => {
    const h = host(['libcudart.so.13']);
    const s = cudaProviderStatus(h.nativeDir, { ldLibraryPath: h.libDir, ldconfig: '\tlibcudart.so.12 (libc6,x86-64) => /opt/cuda12/libcudart.so.12\n' });
    assert.deepEqual(s.cudaRuntimes, [12, 13]);
    assert.equal(s.cuda13Only, undefined);
  });
});
