// Our own check of what a /metrics endpoint serves, run on real scrapes by the tests (it needs no
// promtool): the project prefix, counters ending in _total (and nothing else), base units only
// (seconds, bytes, ratios 0..1), histograms of seconds or bytes, _info gauges equal to 1, help text,
// and labels from a known, bounded set with few values each.

import type { MetricFamily } from './exposition.js';
import { METRIC_PREFIX } from './process_metrics.js';

/** Labels our metrics may carry, each with a bounded set of values. */
export const ALLOWED_LABELS: ReadonlySet<string> = new Set([
  // ours
  'worker',
  'state',
  'cause',
  'task',
  'gpu',
  'run_id',
  'variant',
  'device',
  'rank',
  'host',
  // prom-client's process metrics
  'type',
  'space',
  'kind',
  'version',
  'major',
  'minor',
  'patch',
  // the format's own
  'le',
  'quantile',
]);

/** More values than this for one label of one metric means it is not bounded. */
export const MAX_LABEL_VALUES = 100;

const NON_BASE_UNITS = new Set(['milliseconds', 'millis', 'ms', 'microseconds', 'us', 'nanoseconds', 'ns', 'minutes', 'hours', 'days', 'kb', 'mb', 'gb', 'kib', 'mib', 'gib', 'kilobytes', 'megabytes', 'gigabytes', 'bits', 'percent', 'pct']);
/** Words that name a duration: the name must then say _seconds. */
const TIME_WORDS = new Set(['duration', 'latency', 'age', 'elapsed', 'time', 'wait']);
/** Words that name an amount of memory or data: the name must then end in _bytes. */
const SIZE_WORDS = new Set(['memory', 'size']);

export interface LintOptions {
  prefix?: string;
  allowedLabels?: ReadonlySet<string>;
  maxLabelValues?: number;
}

/** Every problem found, one line each ("name: what is wrong"); empty when the scrape is clean. */
export function lintMetrics(families: readonly MetricFamily[], o: LintOptions = {}): string[] {
  const prefix = o.prefix ?? METRIC_PREFIX;
  const allowed = o.allowedLabels ?? ALLOWED_LABELS;
  const maxValues = o.maxLabelValues ?? MAX_LABEL_VALUES;
  const problems: string[] = [];
  for (const f of families) {
    const say = (p: string): void => void problems.push(`${f.name}: ${p}`);
    if (!f.name.startsWith(prefix)) say(`must start with ${prefix}`);
    if (!/^[a-z][a-z0-9_]*$/.test(f.name) || f.name.includes('__')) say('must be lower-case snake_case');
    const words = f.name.slice(prefix.length).split('_');
    if (f.type === 'untyped') say('has no TYPE');
    if (!f.help.trim()) say('has no HELP');
    if (f.type === 'counter' && !f.name.endsWith('_total')) say('a counter must end in _total');
    if (f.type !== 'counter' && f.name.endsWith('_total')) say('only counters end in _total');
    for (const w of words) if (NON_BASE_UNITS.has(w)) say(`use base units (seconds, bytes, ratio 0..1), not "${w}"`);
    if (words.some((w) => TIME_WORDS.has(w)) && !words.includes('seconds')) say('a duration must be in _seconds');
    if (words.some((w) => SIZE_WORDS.has(w)) && !words.includes('bytes')) say('an amount of memory must be in _bytes');
    if ((f.type === 'histogram' || f.type === 'summary') && !/_(seconds|bytes)$/.test(f.name)) say(`a ${f.type} must measure _seconds or _bytes`);
    if (f.name.endsWith('_info') && (f.type !== 'gauge' || f.samples.some((s) => s.value !== 1))) say('an _info metric is a gauge equal to 1');
    if (f.name.endsWith('_ratio')) for (const s of f.samples) if (!(s.value >= 0 && s.value <= 1)) say(`a ratio must be in 0..1 (got ${s.value})`);
    const values = new Map<string, Set<string>>();
    for (const s of f.samples) {
      for (const [k, v] of Object.entries(s.labels)) {
        if (!allowed.has(k)) {
          say(`label "${k}" is not one of the bounded labels (${[...allowed].join(', ')})`);
          continue;
        }
        let set = values.get(k);
        if (!set) values.set(k, (set = new Set()));
        set.add(v);
      }
    }
    for (const [k, set] of values) if (set.size > maxValues) say(`label "${k}" has ${set.size} values (at most ${maxValues}: it must be bounded)`);
  }
  return [...new Set(problems)];
}
