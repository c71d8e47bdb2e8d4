import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { fileErrorReason } from '../../shared/errors/file_error.js';

function readError(file: string): unknown {
  try {
    readFileSync(file);
  } catch (err) {
    return err;
  }
  throw new Error(`${file} could be read`);
}

describe('fileErrorReason', () => {
  it('says why in words for the usual errno codes, and falls back to the message', () => {
    assert.equal(fileErrorReason(readError(path.join(tmpdir(), 'samlora-absent-file-for-test'))), 'no such file');
    assert.equal(fileErrorReason(readError(tmpdir())), 'is a directory');
    assert.equal(fileErrorReason(Object.assign(new Error('EACCES: permission denied, open x'), { code: 'EACCES' })), 'permission denied');
    assert.equal(fileErrorReason(Object.assign(new Error('EIO: i/o error'), { code: 'EIO' })), 'EIO: i/o error');
    assert.equal(fileErrorReason('not an error'), 'not an error');
  });
});
