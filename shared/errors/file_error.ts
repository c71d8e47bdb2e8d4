// Why a file could not be read, in words ("no such file"), for messages that already name the file:
// Node's own text repeats the path and the syscall ("ENOENT: no such file or directory, open '...'").

import { errorMessage } from './error_message.js';

const REASONS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  ENOTDIR: 'no such file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'is a directory',
};

export function fileErrorReason(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return (typeof code === 'string' ? REASONS[code] : undefined) ?? errorMessage(err);
}
