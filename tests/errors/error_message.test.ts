import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errorMessage, errorWithStack } from '../../shared/errors/error_message.js';

describe('errorMessage', () => {
  it("gives an Error's message (not its name or stack) and anything else as text", () => {
    assert.equal(errorMessage(new TypeError('bad input')), 'bad input');
    assert.equal(errorMessage('plain string'), 'plain string');
    assert.equal(errorMessage(42), '42');
    assert.equal(errorMessage(undefined), 'undefined');
    assert.equal(errorMessage({ toString: () => 'custom' }), 'custom');
  });

  it('adds the stack trace when the value has one', () => {
    const e = new Error('broke');
    assert.match(errorWithStack(e), /^Error: broke\n\s+at /);
    const noStack = new Error('no stack');
    noStack.stack = undefined;
    assert.equal(errorWithStack(noStack), 'no stack');
    assert.equal(errorWithStack('text'), 'text');
  });
});
