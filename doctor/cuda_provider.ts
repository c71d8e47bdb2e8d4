// Is onnxruntime-node's CUDA execution provider installed, and can the loader find everything it
// needs on this host? Reads the provider library's DT_NEEDED entries when it is there (the list of
// ORT 1.29's CUDA 12 build otherwise), finds each on the loader path, names the fix for each
// missing one, and recognises a host that has only CUDA 13 (the provider is built for CUDA 12).

import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { elfNeeded } from './elf_needed.js';
import { type FoundLibrary, findLibraries, type LibrarySearch } from './host_libraries.js';

export const PROVIDER_LIBRARY = 'libonnxruntime_providers_cuda.so';
export const PROVIDERS_SHARED_LIBRARY = 'libonnxruntime_providers_shared.so';
export const INSTALL_HINT = 'npm run install:cuda after npm ci (fetches the CUDA 12 build of the provider into node_modules/onnxruntime-node/bin/)';

/** What ORT 1.29's CUDA 12 provider links against, for when the library is not installed yet. */
export const EXPECTED_CUDA12_DEPENDENCIES = ['libcublasLt.so.12', 'libcublas.so.12', 'libcudnn.so.9', 'libcurand.so.10', 'libcufft.so.11', 'libcudart.so.12'] as const;

/** The NVIDIA driver's library, loaded by the CUDA runtime (not linked). */
export const DRIVER_LIBRARY = 'libcuda.so.1';

/** How to install each CUDA library (system packages, or NVIDIA's pip wheels plus LD_LIBRARY_PATH). */
const FIXES: readonly [RegExp, string][] = [
  [/^libcudart\.so\./, 'the CUDA 12 runtime: apt install cuda-cudart-12-<minor> (NVIDIA CUDA repository), or pip install nvidia-cuda-runtime-cu12 and add its lib/ directory to LD_LIBRARY_PATH'],
  [/^libcublas(Lt)?\.so\./, 'cuBLAS for CUDA 12: apt install libcublas-12-<minor>, or pip install nvidia-cublas-cu12 and add its lib/ directory to LD_LIBRARY_PATH'],
  [/^libcudnn\.so\./, 'cuDNN 9 for CUDA 12: apt install libcudnn9-cuda-12, or pip install nvidia-cudnn-cu12 and add its lib/ directory to LD_LIBRARY_PATH'],
  [/^libcufft\.so\./, 'cuFFT for CUDA 12: apt install libcufft-12-<minor>, or pip install nvidia-cufft-cu12 and add its lib/ directory to LD_LIBRARY_PATH'],
  [/^libcurand\.so\./, 'cuRAND for CUDA 12: apt install libcurand-12-<minor>, or pip install nvidia-curand-cu12 and add its lib/ directory to LD_LIBRARY_PATH'],
  [/^libcuda\.so\./, 'the NVIDIA driver (libcuda.so.1 comes with it; in a container, run with --gpus / the NVIDIA container toolkit)'],
  [/^libonnxruntime_providers_shared\.so$/, `onnxruntime's providers_shared library, installed with the provider: ${INSTALL_HINT}`],
];

export function fixFor(soname: string): string {
  return FIXES.find(([re]) => re.test(soname))?.[1] ?? 'a library of the system (install the package that provides it)';
}

export interface CudaProviderStatus {
  /** onnxruntime-node's native directory for this platform. */
  nativeDir: string | null;
  /** The provider library's path when installed. */
  library: string | null;
  /** Where the dependency list came from. */
  dependencySource: 'provider library' | 'expected for onnxruntime 1.29 (CUDA 12 build)';
  dependencies: (FoundLibrary & { fix?: string })[];
  /** CUDA major versions whose runtime (libcudart.so.N) the loader finds. */
  cudaRuntimes: number[];
  /** Set when the host has CUDA 13 only: what it needs. */
  cuda13Only?: string;
  /** Empty when the provider is installed and every dependency is found. */
  problems: string[];
}

/** Loader-visible CUDA runtime major versions (libcudart.so.11 .. .14). */
function cudaRuntimeMajors(s: LibrarySearch): number[] {
  const majors = [11, 12, 13, 14];
  return findLibraries(majors.map((m) => `libcudart.so.${m}`), s)
    .map((f, i) => (f.path ? majors[i]! : 0))
    .filter((m) => m > 0);
}

export function cudaProviderStatus(nativeDir: string | null, search: LibrarySearch): CudaProviderStatus {
  const problems: string[] = [];
  const library = nativeDir && existsSync(path.join(nativeDir, PROVIDER_LIBRARY)) ? path.join(nativeDir, PROVIDER_LIBRARY) : null;
  let needed: string[];
  let dependencySource: CudaProviderStatus['dependencySource'];
  if (library) {
    // Only the CUDA-side libraries are interesting; libc, libstdc++ and friends are always there.
    needed = elfNeeded(library).filter((n) => /^lib(cu|nv|onnxruntime)/.test(n));
    dependencySource = 'provider library';
  } else {
    problems.push(`the CUDA execution provider is not installed (${PROVIDER_LIBRARY} is missing from ${nativeDir ?? 'onnxruntime-node/bin'}); install it with ${INSTALL_HINT}`);
    needed = [...EXPECTED_CUDA12_DEPENDENCIES, PROVIDERS_SHARED_LIBRARY];
    dependencySource = 'expected for onnxruntime 1.29 (CUDA 12 build)';
  }
  if (!needed.includes(DRIVER_LIBRARY)) needed.push(DRIVER_LIBRARY);
  const withOrigin = { ...search, extraDirs: [...(nativeDir ? [nativeDir] : []), ...(search.extraDirs ?? [])] };
  const dependencies: CudaProviderStatus['dependencies'] = findLibraries(needed, withOrigin).map((f) => (f.path ? f : { ...f, fix: fixFor(f.soname) }));
  const cudaRuntimes = cudaRuntimeMajors(search);
  const status: CudaProviderStatus = { nativeDir, library, dependencySource, dependencies, cudaRuntimes, problems };
  const wantsCudart12 = needed.includes('libcudart.so.12');
  if (wantsCudart12 && !cudaRuntimes.includes(12) && cudaRuntimes.includes(13)) {
    status.cuda13Only =
      'this host has the CUDA 13 runtime (libcudart.so.13) but not CUDA 12, and onnxruntime-node 1.29 ships its CUDA provider for CUDA 12 only ' +
      '(npm run install:cuda fetches the cuda12 build; there is no cuda13 build). A CUDA 13 driver runs CUDA 12 programs, so install the CUDA 12 libraries ' +
      'beside CUDA 13 (apt: cuda-libraries-12-<minor> and libcudnn9-cuda-12; or pip: nvidia-cuda-runtime-cu12 nvidia-cublas-cu12 nvidia-cufft-cu12 ' +
      'nvidia-curand-cu12 nvidia-cudnn-cu12, with their lib/ directories on LD_LIBRARY_PATH), or use the container image (CUDA 12.6)';
    problems.push(status.cuda13Only);
  }
  for (const d of dependencies) {
    // Already said: the provider's own companion (not installed with it) and the CUDA 12 set (CUDA 13 host).
    const said = (!library && d.soname === PROVIDERS_SHARED_LIBRARY) || (status.cuda13Only !== undefined && /^libcu(dart|blas|blasLt|fft|rand)\.so\.1[012]$/.test(d.soname));
    if (!d.path && !said) problems.push(`${d.soname} not found by the loader: install ${d.fix}`);
  }
  return status;
}
