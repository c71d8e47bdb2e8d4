// The token the coordinator and worker commands use: --token-file, else $SAMLORA_TOKEN, else none.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { runToken } from '../../bin/run_token.js';
import { TOKEN_ENV_VAR } from '../../shared/wire/security.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-runtoken-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const FROM_FILE = 'file-token-0123456789abcdef';
const FROM_ENV = 'env-token-0123456789abcdef';

describe('runToken', () => {
  it('prefers --token-file, falls back to the environment, and is absent without either', async () => {
    const file = path.join(tmp, 'token');
    writeFileSync(file, `${FROM_FILE}\n`);
    const env = { [TOKEN_ENV_VAR]: FROM_ENV };
    assert.ok((await runToken(file, env))!.matches(FROM_FILE));
    assert.ok((await runToken(undefined, env))!.matches(FROM_ENV));
    assert.equal(await runToken(undefined, {}), undefined);
    await assert.rejects(runToken(path.join(tmp, 'absent'), env), /--token-file .*absent: no such file/);
  });
});
