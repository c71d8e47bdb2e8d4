// 2-D convolution and transposed convolution (NCHW).

import { type Tensor, int, ints } from '../graph.js';
import { ShapeError, fmt } from '../shape.js';

export interface ConvOptions {
  strides?: readonly [number, number];
  /** [top, left, bottom, right] as ONNX orders them. */
  pads?: readonly [number, number, number, number];
  dilations?: readonly [number, number];
  group?: number;
}

export interface ConvTransposeOptions extends ConvOptions {
  outputPadding?: readonly [number, number];
}

function resolve(opts: ConvOptions): { s: [number, number]; p: [number, number, number, number]; d: [number, number]; g: number } {
  return {
    s: [...(opts.strides ?? [1, 1])] as [number, number],
    p: [...(opts.pads ?? [0, 0, 0, 0])] as [number, number, number, number],
    d: [...(opts.dilations ?? [1, 1])] as [number, number],
    g: opts.group ?? 1,
  };
}

/** y[N, M, OH, OW] = conv(x[N, C, H, W], w[M, C/group, KH, KW]) + b[M]. */
export function conv(x: Tensor, w: Tensor, b: Tensor | null, opts: ConvOptions = {}): Tensor {
  const { s, p, d, g } = resolve(opts);
  if (x.rank !== 4 || w.rank !== 4) throw new ShapeError('Conv', `want 4-D input and weight, got ${fmt(x.shape)} and ${fmt(w.shape)}`);
  const [n, c, h, wd] = x.shape as [number, number, number, number];
  const [m, cg, kh, kw] = w.shape as [number, number, number, number];
  if (c !== cg * g || m % g !== 0) throw new ShapeError('Conv', `input ${fmt(x.shape)} and weight ${fmt(w.shape)} disagree on channels (group ${g})`);
  if (b && (b.rank !== 1 || b.shape[0] !== m)) throw new ShapeError('Conv', `bias ${fmt(b.shape)} must be [${m}]`);
  const oh = Math.floor((h + p[0] + p[2] - d[0] * (kh - 1) - 1) / s[0]) + 1;
  const ow = Math.floor((wd + p[1] + p[3] - d[1] * (kw - 1) - 1) / s[1]) + 1;
  if (oh < 1 || ow < 1) throw new ShapeError('Conv', `kernel ${fmt(w.shape)} larger than padded input ${fmt(x.shape)}`);
  const attrs = { kernel_shape: ints([kh, kw]), strides: ints(s), pads: ints(p), dilations: ints(d), group: int(g) };
  return x.graph.addNode('Conv', b ? [x, w, b] : [x, w], attrs, [{ shape: [n, m, oh, ow], dtype: x.dtype }])[0]!;
}

/** y[N, M, OH, OW] = conv_transpose(x[N, C, H, W], w[C, M/group, KH, KW]) + b[M]. */
export function convTranspose(x: Tensor, w: Tensor, b: Tensor | null, opts: ConvTransposeOptions = {}): Tensor {
  const { s, p, d, g } = resolve(opts);
  const op = opts.outputPadding ?? [0, 0];
  if (x.rank !== 4 || w.rank !== 4) throw new ShapeError('ConvTranspose', `want 4-D input and weight, got ${fmt(x.shape)} and ${fmt(w.shape)}`);
  const [n, c, h, wd] = x.shape as [number, number, number, number];
  const [cw, mg, kh, kw] = w.shape as [number, number, number, number];
  if (c !== cw) throw new ShapeError('ConvTranspose', `input ${fmt(x.shape)} and weight ${fmt(w.shape)} disagree on channels`);
  const m = mg * g;
  if (b && (b.rank !== 1 || b.shape[0] !== m)) throw new ShapeError('ConvTranspose', `bias ${fmt(b.shape)} must be [${m}]`);
  const oh = s[0] * (h - 1) + op[0] + d[0] * (kh - 1) + 1 - p[0] - p[2];
  const ow = s[1] * (wd - 1) + op[1] + d[1] * (kw - 1) + 1 - p[1] - p[3];
  const attrs = {
    kernel_shape: ints([kh, kw]),
    strides: ints(s),
    pads: ints(p),
    dilations: ints(d),
    group: int(g),
    output_padding: ints(op),
  };
  return x.graph.addNode('ConvTranspose', b ? [x, w, b] : [x, w], attrs, [{ shape: [n, m, oh, ow], dtype: x.dtype }])[0]!;
}
