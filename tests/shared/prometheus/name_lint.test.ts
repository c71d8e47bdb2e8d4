import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseExposition } from '../../../shared/prometheus/exposition.js';
import { lintMetrics } from '../../../shared/prometheus/name_lint.js';

const lint = (text: string): string[] => lintMetrics(parseExposition(text));

describe('metric name lint', () => {
  it('accepts well-named metrics', () => {
    assert.deepEqual(
      lint(
        [
          '# HELP samlora_steps_total Steps.',
          '# TYPE samlora_steps_total counter',
          'samlora_steps_total 2',
          '# HELP samlora_step_duration_seconds Step time.',
          '# TYPE samlora_step_duration_seconds histogram',
          'samlora_step_duration_seconds_bucket{le="+Inf"} 1',
          'samlora_step_duration_seconds_count 1',
          '# HELP samlora_gpu_utilization_ratio Busy.',
          '# TYPE samlora_gpu_utilization_ratio gauge',
          'samlora_gpu_utilization_ratio{gpu="0"} 0.5',
          '# HELP samlora_run_info Run.',
          '# TYPE samlora_run_info gauge',
          'samlora_run_info{run_id="x"} 1',
        ].join('\n'),
      ),
      [],
    );
  });

  it('finds each kind of problem', () => {
    const problems = lint(
      [
        '# HELP other_steps_total x',
        '# TYPE other_steps_total counter',
        '# HELP samlora_steps x',
        '# TYPE samlora_steps counter',
        '# HELP samlora_loss_total x',
        '# TYPE samlora_loss_total gauge',
        '# HELP samlora_step_duration_milliseconds x',
        '# TYPE samlora_step_duration_milliseconds histogram',
        '# HELP samlora_step_duration x',
        '# TYPE samlora_step_duration gauge',
        '# HELP samlora_gpu_memory_used x',
        '# TYPE samlora_gpu_memory_used gauge',
        '# HELP samlora_busy_ratio x',
        '# TYPE samlora_busy_ratio gauge',
        'samlora_busy_ratio 50',
        '# HELP samlora_run_info x',
        '# TYPE samlora_run_info gauge',
        'samlora_run_info 2',
        '# TYPE samlora_nohelp gauge',
        '# HELP samlora_per_sample x',
        '# TYPE samlora_per_sample gauge',
        'samlora_per_sample{sample_id="a"} 1',
        '# HELP samlora_workers x',
        '# TYPE samlora_workers gauge',
        ...Array.from({ length: 5 }, (_, i) => `samlora_workers{worker="w${i}"} 1`),
      ].join('\n'),
    ).concat(
      lintMetrics(parseExposition(['# HELP samlora_w x', '# TYPE samlora_w gauge', ...Array.from({ length: 5 }, (_, i) => `samlora_w{worker="w${i}"} 1`)].join('\n')), { maxLabelValues: 4 }),
    );
    const expect = [
      'other_steps_total: must start with samlora_',
      'samlora_steps: a counter must end in _total',
      'samlora_loss_total: only counters end in _total',
      'samlora_step_duration_milliseconds: use base units (seconds, bytes, ratio 0..1), not "milliseconds"',
      'samlora_step_duration_milliseconds: a histogram must measure _seconds or _bytes',
      'samlora_step_duration: a duration must be in _seconds',
      'samlora_gpu_memory_used: an amount of memory must be in _bytes',
      'samlora_busy_ratio: a ratio must be in 0..1 (got 50)',
      'samlora_run_info: an _info metric is a gauge equal to 1',
      'samlora_nohelp: has no HELP',
      'samlora_w: label "worker" has 5 values (at most 4: it must be bounded)',
    ];
    for (const e of expect) assert.ok(problems.includes(e), `expected "${e}" in:\n${problems.join('\n')}`);
    assert.ok(problems.some((p) => p.startsWith('samlora_per_sample: label "sample_id" is not one of the bounded labels')));
    assert.ok(!problems.some((p) => p.startsWith('samlora_workers:')), 'five workers are within the default bound');
  });
});
