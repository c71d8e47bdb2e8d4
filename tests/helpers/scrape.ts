// Scrapes a /metrics endpoint over HTTP (bounded) and reads it with the exposition parser.

import assert from 'node:assert/strict';
import { type MetricFamily, parseExposition } from '../../shared/prometheus/exposition.js';

export interface Scrape {
  text: string;
  families: MetricFamily[];
  contentType: string;
}

export async function scrape(url: string): Promise<Scrape> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  assert.equal(res.status, 200, `GET ${url}: ${res.status} ${text.slice(0, 200)}`);
  return { text, families: parseExposition(text), contentType: res.headers.get('content-type') ?? '' };
}

/** The value of one sample; fails the test when it is absent. */
export function valueOf(s: Scrape | MetricFamily[], name: string, labels: Record<string, string> = {}): number {
  const families = Array.isArray(s) ? s : s.families;
  for (const f of families) {
    for (const x of f.samples) if (x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v)) return x.value;
  }
  assert.fail(`no sample ${name}${JSON.stringify(labels)} in the scrape`);
}

/** Every metric name a query may use: family names, and a histogram's _bucket/_sum/_count. */
export function exposedNames(families: readonly MetricFamily[]): Set<string> {
  const names = new Set<string>();
  for (const f of families) {
    names.add(f.name);
    if (f.type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(f.name + s);
  }
  return names;
}
