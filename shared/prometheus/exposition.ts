// A reader of the Prometheus text exposition format (version 0.0.4), enough to check what our
// /metrics endpoints serve: families with HELP and TYPE, samples with labels and values. The lint
// and the tests read real scrapes through it rather than the client library's internals.

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  /** The sample's own name (a histogram's `_bucket`, `_sum`, `_count`). */
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  name: string;
  type: MetricType;
  help: string;
  samples: Sample[];
}

export class ExpositionError extends Error {
  override readonly name = 'ExpositionError';
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})?\\s+(\\S+)(?:\\s+-?\\d+)?$`);
const SUFFIXES = ['_bucket', '_sum', '_count'];

function parseValue(text: string, line: number): number {
  // As Go's ParseFloat, which Prometheus uses: case-insensitive (prom-client writes "Nan").
  if (/^\+?inf(inity)?$/i.test(text)) return Infinity;
  if (/^-inf(inity)?$/i.test(text)) return -Infinity;
  if (/^nan$/i.test(text)) return NaN;
  const v = Number(text);
  if (text.trim() === '' || Number.isNaN(v)) throw new ExpositionError(`line ${line}: bad value ${JSON.stringify(text)}`);
  return v;
}

function parseLabels(text: string, line: number): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const m = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"/.exec(text.slice(i));
    if (!m) throw new ExpositionError(`line ${line}: bad labels ${JSON.stringify(text)}`);
    i += m[0].length;
    let value = '';
    for (;;) {
      if (i >= text.length) throw new ExpositionError(`line ${line}: unterminated label value`);
      const c = text[i++]!;
      if (c === '"') break;
      if (c === '\\') {
        const n = text[i++];
        value += n === 'n' ? '\n' : (n ?? '');
      } else value += c;
    }
    if (m[1]! in labels) throw new ExpositionError(`line ${line}: label ${m[1]} given twice`);
    labels[m[1]!] = value;
    const rest = /^\s*(,|$)/.exec(text.slice(i));
    if (!rest) throw new ExpositionError(`line ${line}: expected , between labels`);
    i += rest[0].length;
  }
  return labels;
}

/** Parses a scrape into its families, in order; throws ExpositionError on malformed text. */
export function parseExposition(text: string): MetricFamily[] {
  const families = new Map<string, MetricFamily>();
  const family = (name: string): MetricFamily => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { name, type: 'untyped', help: '', samples: [] }));
    return f;
  };
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    const n = index + 1;
    if (line === '') return;
    const meta = /^#\s*(HELP|TYPE)\s+(\S+)\s?(.*)$/.exec(line);
    if (meta) {
      const f = family(meta[2]!);
      if (meta[1] === 'HELP') f.help = meta[3]!.replace(/\\n/g, '\n').replace(/\\\\/g, '\\');
      else if (['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(meta[3]!)) f.type = meta[3] as MetricType;
      else throw new ExpositionError(`line ${n}: unknown type ${meta[3]}`);
      return;
    }
    if (line.startsWith('#')) return;
    const m = SAMPLE.exec(line);
    if (!m) throw new ExpositionError(`line ${n}: not a sample: ${JSON.stringify(line)}`);
    const name = m[1]!;
    const base = families.has(name) ? name : (SUFFIXES.map((s) => (name.endsWith(s) ? name.slice(0, -s.length) : '')).find((b) => b && families.has(b)) ?? name);
    family(base).samples.push({ name, labels: m[2] ? parseLabels(m[2], n) : {}, value: parseValue(m[3]!, n) });
  });
  return [...families.values()];
}

/** The value of the sample `name` whose labels include `labels`; undefined when there is none. */
export function sampleValue(families: readonly MetricFamily[], name: string, labels: Record<string, string> = {}): number | undefined {
  for (const f of families) {
    for (const s of f.samples) {
      if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) return s.value;
    }
  }
  return undefined;
}
