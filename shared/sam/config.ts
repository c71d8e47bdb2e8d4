// SAM variant hyper-parameters: the official ViT-B/L/H and any custom variant (the fixtures use
// small ones). Fields follow the fixtures' meta.json names.

export interface SamConfig {
  /** Image-encoder width, depth and heads. */
  dim: number;
  depth: number;
  heads: number;
  /** Indexes of the blocks with global attention; the others use windowed attention. */
  glob: number[];
  /** Model input size (square); the embedding grid is img / 16. */
  img: number;
  /** Window size of the windowed blocks. */
  window: number;
  /** Prompt / neck / decoder width. */
  pdim: number;
  /** Mask-decoder transformer MLP width and heads. */
  dmlp: number;
  dheads: number;
  /** IoU-head hidden width. */
  iouh: number;
}

/** Fixed in every SAM: patch 16, MLP ratio 4, 3 multimask outputs, mask_in_chans 16, eps 1e-6. */
export const SAM_CONSTANTS = {
  patch: 16,
  mlpRatio: 4,
  multimaskOutputs: 3,
  maskInChans: 16,
  eps: 1e-6,
  decoderDepth: 2,
  attentionDownsample: 2,
  pixelMean: [123.675, 116.28, 103.53],
  pixelStd: [58.395, 57.12, 57.375],
} as const;

const DECODER = { img: 1024, window: 14, pdim: 256, dmlp: 2048, dheads: 8, iouh: 256 };

export const VARIANTS: Readonly<Record<'vit_b' | 'vit_l' | 'vit_h', SamConfig>> = {
  vit_b: { dim: 768, depth: 12, heads: 12, glob: [2, 5, 8, 11], ...DECODER },
  vit_l: { dim: 1024, depth: 24, heads: 16, glob: [5, 11, 17, 23], ...DECODER },
  vit_h: { dim: 1280, depth: 32, heads: 16, glob: [7, 15, 23, 31], ...DECODER },
};

export type VariantName = keyof typeof VARIANTS;

export const gridSize = (c: SamConfig): number => c.img / SAM_CONSTANTS.patch;
export const lowResSize = (c: SamConfig): number => 4 * gridSize(c);

/** Throws one error listing every inconsistency of a config. */
export function validateConfig(c: SamConfig, source = 'config'): void {
  const problems: string[] = [];
  const posInt = (k: keyof SamConfig): void => {
    const v = c[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) problems.push(`${k} must be a positive integer (got ${String(v)})`);
  };
  (['dim', 'depth', 'heads', 'img', 'window', 'pdim', 'dmlp', 'dheads', 'iouh'] as const).forEach(posInt);
  if (c.img % SAM_CONSTANTS.patch !== 0) problems.push(`img ${c.img} is not a multiple of the patch size 16`);
  if (c.dim % c.heads !== 0) problems.push(`dim ${c.dim} is not divisible by heads ${c.heads}`);
  if ((c.pdim / SAM_CONSTANTS.attentionDownsample) % c.dheads !== 0) problems.push(`pdim/2 = ${c.pdim / 2} is not divisible by dheads ${c.dheads}`);
  if (c.pdim % 8 !== 0) problems.push(`pdim ${c.pdim} is not a multiple of 8`);
  for (const g of c.glob) if (!Number.isInteger(g) || g < 0 || g >= c.depth) problems.push(`global block index ${g} is outside 0..${c.depth - 1}`);
  if (problems.length) throw new Error(`${source}: invalid SAM config: ${problems.join('; ')}`);
}

/** "vit_b", "vit_l" or "vit_h" when the image encoder matches an official variant, else a short description. */
export function variantLabel(c: SamConfig): string {
  for (const [name, v] of Object.entries(VARIANTS)) if (v.dim === c.dim && v.depth === c.depth && v.heads === c.heads && v.img === c.img) return name;
  return `custom (dim ${c.dim}, depth ${c.depth}, ${c.img} px)`;
}
