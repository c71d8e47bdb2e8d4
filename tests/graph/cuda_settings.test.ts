import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyCudaEnvironment, assertCudaSettingsApplicable, ORT_CUDA_DEFAULTS, TF32_OVERRIDE_ENV, tf32InEffect, unappliableCudaSettings } from '../../shared/graph/cuda_settings.js';
import { CudaUnavailableError, GraphSession } from '../../shared/graph/runtime.js';

describe('CUDA settings', () => {
  it("ORT's defaults are applicable; each other value is named with the reason", () => {
    assert.deepEqual(unappliableCudaSettings(ORT_CUDA_DEFAULTS), []);
    assert.doesNotThrow(() => assertCudaSettingsApplicable({ ...ORT_CUDA_DEFAULTS, useTf32: false }));
    const bad = unappliableCudaSettings({ gpuMemLimit: 2 ** 30, arenaExtendStrategy: 'same_as_requested', cudnnConvAlgoSearch: 'heuristic', useTf32: true });
    assert.deepEqual(
      bad.map((b) => b.key),
      ['runtime.gpu_mem_limit', 'runtime.arena_extend_strategy', 'runtime.cudnn_conv_algo_search'],
    );
    for (const b of bad) assert.match(b.message, /onnxruntime-node 1\.29 passes only the device id/);
    assert.throws(() => assertCudaSettingsApplicable({ ...ORT_CUDA_DEFAULTS, gpuMemLimit: 1 }), /runtime\.gpu_mem_limit: .*leave it null/);
  });

  it('TF32 off is NVIDIA_TF32_OVERRIDE=0 in the process environment, and its absence is an error', () => {
    const env: NodeJS.ProcessEnv = {};
    const off = { ...ORT_CUDA_DEFAULTS, useTf32: false };
    assert.equal(tf32InEffect(ORT_CUDA_DEFAULTS, env), true);
    assert.throws(() => tf32InEffect(off, env), /use_tf32 is false but NVIDIA_TF32_OVERRIDE is unset/);
    applyCudaEnvironment(ORT_CUDA_DEFAULTS, env);
    assert.equal(env[TF32_OVERRIDE_ENV], undefined, 'TF32 on leaves the environment alone');
    applyCudaEnvironment(off, env);
    assert.equal(env[TF32_OVERRIDE_ENV], '0');
    assert.equal(tf32InEffect(off, env), false);
    // Set by the user outside: TF32 is off even though the config leaves it on.
    assert.equal(tf32InEffect(ORT_CUDA_DEFAULTS, env), false);
  });

  it('a CUDA session on this host fails with the install hint before settings matter', async () => {
    const model = new Uint8Array(0);
    await assert.rejects(GraphSession.create(model, { device: { kind: 'cuda', deviceId: 0 }, cuda: { ...ORT_CUDA_DEFAULTS, gpuMemLimit: 1 } }), (e: unknown) => {
      // Without the provider library (this host) the install hint comes first; with it, the setting.
      assert.ok(e instanceof CudaUnavailableError || /gpu_mem_limit/.test(String(e)), String(e));
      return true;
    });
  });
});
