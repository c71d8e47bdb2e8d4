// The run's shared secret as the coordinator and the worker commands take it: --token-file (read by
// SharedToken, the one reader of token files), else $SAMLORA_TOKEN when set, else none.

import { SharedToken, TOKEN_ENV_VAR } from '../shared/wire/security.js';

export async function runToken(tokenFile: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<SharedToken | undefined> {
  if (tokenFile) return SharedToken.fromFile(tokenFile, '--token-file');
  return env[TOKEN_ENV_VAR] ? SharedToken.fromEnv(TOKEN_ENV_VAR, env) : undefined;
}
