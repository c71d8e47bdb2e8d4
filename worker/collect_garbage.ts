// A full garbage collection on demand, without starting node with --expose-gc. V8 counts only its own
// heap and ArrayBuffers, not ORT's allocations: an array dropped just before a session run would stay
// resident through the run's peak unless something collects it first. (jest reaches gc the same way.)

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gc: (() => void) | undefined;

export function collectGarbage(): void {
  if (!gc) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  gc();
}
