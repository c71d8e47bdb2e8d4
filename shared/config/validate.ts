// Validation of an assembled configuration tree: zod's issues as located, readable problems, and the
// problems between keys (and of the model a config pins) that no single key's schema can see.

import type { z } from 'zod';
import { validateConfig } from '../sam/config.js';
import { describeValue, suggest } from './errors.js';
import { blockProblems, decoderHeadProblems, declaredModelConfig, rankProblems } from './model_fit.js';
import { REFERENCE_KEYS, customVariantSchema, knownKeys } from './schema.js';
import { type Seg, type Tree, getAt, isPlainObject, segsToKey } from './tree.js';

/** A problem at a path of the tree (located in the file or on the command line by the caller). */
export interface TreeProblem {
  segs: Seg[];
  message: string;
}

/** Turns zod issues into located problems (union issues: the branch that matches the value's kind). */
export function issueMessages(issues: readonly z.core.$ZodIssue[], prefix: Seg[], tree: unknown): TreeProblem[] {
  const out: TreeProblem[] = [];
  for (const issue of issues) {
    const segs: Seg[] = [...prefix, ...(issue.path as Seg[])];
    const value = getAt(tree, segs);
    const got = ` (got ${describeValue(value)})`;
    switch (issue.code) {
      case 'unrecognized_keys': {
        const parent = segs.filter((s): s is string => typeof s === 'string');
        const candidates = [...(knownKeys(parent) ?? []), ...(parent.length === 0 ? Object.keys(REFERENCE_KEYS) : [])];
        for (const k of issue.keys) {
          const hint = suggest(k, candidates);
          out.push({ segs: [...segs, k], message: `unknown key${hint ? ` (did you mean ${segsToKey([...segs, hint])}?)` : ''}` });
        }
        break;
      }
      case 'invalid_union': {
        const score = (branch: readonly z.core.$ZodIssue[]): number =>
          Math.max(0, ...branch.map((i) => (i.path.length > 0 ? 0 : i.code === 'invalid_type' ? 2 : 1)));
        const best = [...issue.errors].sort((a, b) => score(a) - score(b))[0] ?? [];
        out.push(...issueMessages(best, segs, tree));
        break;
      }
      case 'invalid_type': {
        const names: Record<string, string> = { object: 'a mapping', array: 'a list', tuple: 'a list', int: 'an integer', boolean: 'true or false', string: 'a string', number: 'a number' };
        const expected = names[issue.expected] ?? issue.expected;
        if (value === undefined) out.push({ segs, message: 'required' });
        else if (issue.expected === 'int' && typeof value === 'number') out.push({ segs, message: `must be an integer${got}` });
        else out.push({ segs, message: `expected ${expected}${got}` });
        break;
      }
      case 'too_small':
      case 'too_big': {
        const small = issue.code === 'too_small';
        const bound = small ? (issue as z.core.$ZodIssueTooSmall).minimum : (issue as z.core.$ZodIssueTooBig).maximum;
        const inclusive = issue.inclusive ?? true;
        if (issue.origin === 'array') out.push({ segs, message: `must have ${small ? 'at least' : 'at most'} ${String(bound)} item${Number(bound) === 1 ? '' : 's'}${got}` });
        else if (issue.origin === 'string') out.push({ segs, message: `must not be empty` });
        else out.push({ segs, message: `must be ${small ? (inclusive ? '>=' : '>') : inclusive ? '<=' : '<'} ${String(bound)}${got}` });
        break;
      }
      case 'invalid_value': {
        const custom = !issue.message.startsWith('Invalid');
        out.push({ segs, message: custom ? `${issue.message}${got}` : `must be one of ${issue.values.map(String).join(', ')}${got}` });
        break;
      }
      default:
        out.push({ segs, message: issue.message });
    }
  }
  return out;
}

/** Problems between keys, and those of the model a config pins without reading weights. */
export function crossProblems(tree: Tree): TreeProblem[] {
  const out: TreeProblem[] = [];
  const at = (p: string): unknown => getAt(tree, p.split('.'));
  const num = (p: string): number | undefined => {
    const v = at(p);
    return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
  };
  const steps = at('eval.interval_steps');
  const epochs = at('eval.interval_epochs');
  if (steps !== null && steps !== undefined && epochs !== null && epochs !== undefined) {
    out.push({ segs: ['eval', 'interval_steps'], message: 'set either eval.interval_steps or eval.interval_epochs, not both' });
  }
  const patience = at('eval.early_stopping.patience');
  if (patience !== null && patience !== undefined) {
    if (steps === null && epochs === null) {
      out.push({ segs: ['eval', 'early_stopping', 'patience'], message: 'early stopping needs evaluation: set eval.interval_epochs or eval.interval_steps' });
    } else if (at('data.test') === null && at('data.train') !== null) {
      out.push({ segs: ['eval', 'early_stopping', 'patience'], message: 'early stopping needs a test set: set data.test' });
    }
  }
  const lr = num('optimizer.lr');
  const minLr = num('schedule.min_lr');
  if (lr !== undefined && minLr !== undefined && lr > 0 && minLr > lr) {
    out.push({ segs: ['schedule', 'min_lr'], message: `must not exceed optimizer.lr ${lr} (got ${minLr})` });
  }
  for (const list of ['lora.blocks', 'lora.targets', 'lora.decoder_targets']) {
    const v = at(list);
    if (!Array.isArray(v)) continue;
    v.forEach((x, i) => {
      if (v.indexOf(x) !== i) out.push({ segs: [...list.split('.'), i], message: `${describeValue(x)} is listed twice` });
    });
  }
  if (at('train.prompt.mode') === 'mixed') {
    const points = at('train.prompt.points');
    const negatives = at('train.prompt.negative_points');
    if (typeof points === 'number' && points !== 1) out.push({ segs: ['train', 'prompt', 'points'], message: `mixed mode prompts with a box or one positive point: must be 1 (got ${points})` });
    if (typeof negatives === 'number' && negatives !== 0) out.push({ segs: ['train', 'prompt', 'negative_points'], message: `mixed mode has no negative points: must be 0 (got ${negatives})` });
  }
  for (const factor of ['brightness', 'contrast', 'saturation']) {
    const r = at(`train.augment.${factor}`);
    if (Array.isArray(r) && typeof r[0] === 'number' && typeof r[1] === 'number' && r[0] > r[1]) {
      out.push({ segs: ['train', 'augment', factor], message: `must be [lo, hi] with lo <= hi (got ${JSON.stringify(r)})` });
    }
  }
  const format = at('data.format');
  if (typeof at('data.annotations') === 'string' && (format === 'reference' || format === 'instance')) {
    out.push({ segs: ['data', 'annotations'], message: `only COCO datasets have an annotation file (data.format is ${format})` });
  }
  const targets = at('lora.targets');
  const decoderTargets = at('lora.decoder_targets');
  if (Array.isArray(targets) && targets.length === 0 && Array.isArray(decoderTargets) && decoderTargets.length === 0 && at('train.train_decoder') === false) {
    out.push({ segs: ['lora', 'targets'], message: 'nothing to train: no encoder targets, no lora.decoder_targets and train.train_decoder is false' });
  }
  // The model, when the config pins it: custom fields consistent, decoder heads, block range.
  const variant = at('model.variant');
  const dheads = num('model.decoder_heads');
  const checkpoint = at('model.checkpoint');
  if (dheads !== undefined && Number.isInteger(dheads) && dheads > 0 && (checkpoint === null || typeof checkpoint === 'string')) {
    let declared: ReturnType<typeof declaredModelConfig> = null;
    if (isPlainObject(variant)) {
      const parsed = customVariantSchema.safeParse(variant);
      if (parsed.success) {
        try {
          validateConfig({ ...parsed.data, dheads: 1 });
          declared = declaredModelConfig({ checkpoint, variant: parsed.data, decoderHeads: dheads });
        } catch (e) {
          const msg = (e as Error).message;
          out.push({ segs: ['model', 'variant'], message: `inconsistent custom variant: ${msg.slice(msg.indexOf('invalid SAM config: ') + 20)}` });
        }
      }
    } else if (variant === 'auto' || variant === 'vit_b' || variant === 'vit_l' || variant === 'vit_h') {
      declared = declaredModelConfig({ checkpoint, variant, decoderHeads: dheads });
    }
    if (declared) {
      for (const p of decoderHeadProblems(dheads, declared.pdim)) out.push({ segs: p.key.split('.'), message: p.message });
      const rank = num('lora.rank');
      const targets = at('lora.targets');
      const decoderTargets = at('lora.decoder_targets');
      if (rank !== undefined && Array.isArray(targets) && Array.isArray(decoderTargets)) {
        for (const p of rankProblems(rank, declared, targets, decoderTargets)) out.push({ segs: p.key.split('.'), message: p.message });
      }
      const blocks = at('lora.blocks');
      if (Array.isArray(blocks)) {
        for (const p of blockProblems(blocks, declared.depth)) {
          const index = Number(/\[(\d+)\]/.exec(p.key)![1]);
          out.push({ segs: ['lora', 'blocks', index], message: p.message });
        }
      }
    }
  }
  return out;
}
