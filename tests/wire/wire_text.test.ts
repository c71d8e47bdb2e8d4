import assert from 'node:assert/strict';
import { test } from 'node:test';
import { wireText } from '../../shared/wire/wire_text.js';

test('control characters, separators and bidi overrides from a peer are escaped', () => {
  const hostile = 'ok\nstep 9: loss 0.0000\r\u001b[2J\u001b]0;pwned\u0007\u0085\u2028\u202e\u0000tail';
  const safe = wireText(hostile);
  // eslint-disable-next-line no-control-regex -- asserting none are left
  assert.doesNotMatch(safe, /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/);
  assert.equal(safe, 'ok\\u000astep 9: loss 0.0000\\u000d\\u001b[2J\\u001b]0;pwned\\u0007\\u0085\\u2028\\u202e\\u0000tail');
  assert.equal(wireText('plain text, ünïcode ✓'), 'plain text, ünïcode ✓');
});

test('long peer strings are cut, saying how much', () => {
  const s = wireText('x'.repeat(20 * 2 ** 20), 50);
  assert.equal(s, `${'x'.repeat(50)}... (${20 * 2 ** 20 - 50} more characters)`);
});
