import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ExpositionError, parseExposition, sampleValue } from '../../../shared/prometheus/exposition.js';

describe('exposition parser', () => {
  it('reads families, labels with escapes, histograms and special values', () => {
    const text = [
      '# HELP a_total Things.',
      '# TYPE a_total counter',
      'a_total{worker="w-1",note="q\\"x\\\\y\\nz"} 3',
      '# TYPE h_seconds histogram',
      'h_seconds_bucket{le="0.1"} 1',
      'h_seconds_bucket{le="+Inf"} 2',
      'h_seconds_sum 0.3',
      'h_seconds_count 2',
      '# TYPE g gauge',
      'g NaN',
      'g2 -Inf 1700000000',
      '',
    ].join('\n');
    const f = parseExposition(text);
    assert.deepEqual(
      f.map((x) => [x.name, x.type, x.samples.length]),
      [
        ['a_total', 'counter', 1],
        ['h_seconds', 'histogram', 4],
        ['g', 'gauge', 1],
        ['g2', 'untyped', 1],
      ],
    );
    assert.equal(f[0]!.help, 'Things.');
    assert.deepEqual(f[0]!.samples[0]!.labels, { worker: 'w-1', note: 'q"x\\y\nz' });
    assert.equal(sampleValue(f, 'h_seconds_bucket', { le: '+Inf' }), 2);
    assert.ok(Number.isNaN(sampleValue(f, 'g')!));
    assert.equal(sampleValue(f, 'g2'), -Infinity);
    assert.equal(sampleValue(f, 'missing'), undefined);
  });

  it('refuses malformed lines', () => {
    assert.throws(() => parseExposition('a{x="1} 2'), ExpositionError);
    assert.throws(() => parseExposition('a 1 2 3'), ExpositionError);
    assert.throws(() => parseExposition('a abc'), ExpositionError);
    assert.throws(() => parseExposition('# TYPE a bogus'), ExpositionError);
  });
});
