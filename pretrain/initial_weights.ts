// The starting point of pretraining: seeded fan-in-scaled weights (sam/generated_weights.ts) with
// the tensors PyTorch initialises at unit scale set so: nn.Embedding weights (prompt point / label /
// no-mask embeddings, the decoder's IoU and mask tokens) ~ N(0, 1), and the prompt encoder's random
// Fourier matrix ~ N(0, 1) (SAM's scale 1.0; a small one would blur where a point or a box corner is).

import type { SamConfig } from '../shared/sam/config.js';
import { generateStateDict } from '../shared/sam/generated_weights.js';
import { Rng } from '../shared/random/rng.js';
import type { HostTensor } from '../shared/tensor/host_tensor.js';

const UNIT_SCALE = [
  /^prompt_encoder\.pe_layer\.positional_encoding_gaussian_matrix$/,
  /^prompt_encoder\.point_embeddings\.\d+\.weight$/,
  /^prompt_encoder\.not_a_point_embed\.weight$/,
  /^prompt_encoder\.no_mask_embed\.weight$/,
  /^mask_decoder\.(iou_token|mask_tokens)\.weight$/,
];

export function initialPretrainState(cfg: SamConfig, seed: number): Map<string, HostTensor> {
  const state = generateStateDict(cfg, seed + 1);
  const rng = new Rng(seed + 7);
  for (const [key, t] of state) {
    if (!UNIT_SCALE.some((re) => re.test(key))) continue;
    for (let i = 0; i < t.data.length; i++) t.data[i] = rng.normal();
  }
  return state;
}
