// --log-pretty: each JSON record turned into a pino-pretty line before it reaches the destination.
// prettyFactory is synchronous (pino-pretty's stream form pipes asynchronously and could lose the
// last lines at exit).

import { prettyFactory } from 'pino-pretty';
import type { DestinationStream } from 'pino';

export function prettyDestination(target: DestinationStream, o: { colorize: boolean }): DestinationStream {
  const format = prettyFactory({ colorize: o.colorize, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' });
  return {
    write(line: string): void {
      target.write(format(line));
    },
  };
}
