// File-safe, unique names for what `sam-lora eval` writes: one per model (the column headers and
// overlays/<model>/) and one per image (overlays/<model>/<image>.png).
//
// Model names. `--lora NAME=FILE` names a model explicitly. Otherwise the name comes from the file's
// path: its trailing segments, extension dropped, joined with '-', with the uninformative parts a
// trainer checkpoint has left out (the directory `checkpoints` and the file names `lora` /
// `lora.safetensors`), taking as few segments as make every name distinct:
//   lora_r8.safetensors                          -> lora_r8
//   runs/r4/checkpoints/final/lora.safetensors   -> final   (or r4-final beside runs/r8/.../final)
// "base" is the untuned model's name, so a LoRA never gets it.
//
// Image names: the sample id (its path in the dataset) without its extension and without the
// reference layout's leading images/, with '/' turned into '_'; a clash gets a numeric suffix.

import * as path from 'node:path';

export const BASE_MODEL = 'base';

/** Characters kept in a name; everything else becomes '_'. */
export function safeName(s: string): string {
  const out = s.replace(/[^A-Za-z0-9_.+=-]+/g, '_').replace(/^[.]+/, '_');
  return out === '' ? '_' : out;
}

/** Path segments that identify a LoRA file, most specific last. */
function segments(file: string): string[] {
  const parts = path.resolve(file).split(path.sep).filter((p) => p !== '');
  const last = parts.pop() ?? 'lora';
  const stem = last.replace(/\.safetensors$/i, '');
  const kept = parts.filter((p) => p !== 'checkpoints');
  if (stem !== 'lora') kept.push(stem);
  return kept.map(safeName);
}

/** Makes every name distinct from the others and from the reserved ones by suffixes -2, -3, .... */
function dedupe(names: string[], reserved: ReadonlySet<string>): string[] {
  const taken = new Set(reserved);
  return names.map((n) => {
    let name = n;
    for (let i = 2; taken.has(name); i++) name = `${n}-${i}`;
    taken.add(name);
    return name;
  });
}

/** One name per LoRA file (explicit names kept as given after making them file-safe). */
export function modelNames(loras: readonly { file: string; name?: string }[]): string[] {
  const segs = loras.map((l) => segments(l.file));
  const depth = loras.map(() => 1);
  const label = (i: number): string => {
    const s = segs[i]!;
    return s.slice(Math.max(0, s.length - depth[i]!)).join('-') || 'lora';
  };
  // Lengthen the clashing auto names until they differ (or run out of segments).
  for (;;) {
    const auto = loras.map((l, i) => (l.name === undefined ? label(i) : safeName(l.name)));
    let grew = false;
    auto.forEach((name, i) => {
      if (loras[i]!.name !== undefined) return;
      const clash = name === BASE_MODEL || auto.some((other, j) => j !== i && other === name);
      if (clash && depth[i]! < segs[i]!.length) {
        depth[i]!++;
        grew = true;
      }
    });
    if (!grew) return dedupe(auto, new Set([BASE_MODEL]));
  }
}

/** One file-safe, distinct name (no extension) per sample id, in the same order. */
export function imageNames(ids: readonly string[]): string[] {
  const raw = ids.map((id) => {
    const rel = id.startsWith('images/') ? id.slice('images/'.length) : id;
    const stem = rel.slice(0, rel.length - path.posix.extname(rel).length) || rel;
    return safeName(stem.split('/').join('_'));
  });
  return dedupe(raw, new Set());
}
