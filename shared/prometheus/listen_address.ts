// The HOST:PORT a /metrics endpoint listens on (`--metrics`). Port 0 means any free port (tests,
// or when the address is printed for a scraper to be pointed at).

export interface ListenAddress {
  host: string;
  port: number;
}

/** A malformed address: a usage mistake, reported with the flag. */
export class ListenAddressError extends Error {
  override readonly name = 'ListenAddressError';
}

/** Parses HOST:PORT ([v6]:PORT for IPv6); `flag` names the option in messages. */
export function parseListenAddress(text: string, flag: string): ListenAddress {
  const m = /^\[([^\]]+)\]:([^:]*)$/.exec(text) ?? /^([^:[\]]+):([^:]*)$/.exec(text);
  if (!m) throw new ListenAddressError(`${flag} ${text}: expected HOST:PORT, e.g. 0.0.0.0:9464 (every interface), 127.0.0.1:9464 or [::1]:9464`);
  const port = /^\d{1,5}$/.test(m[2]!) ? Number(m[2]) : NaN;
  if (!(port >= 0 && port <= 65535)) throw new ListenAddressError(`${flag} ${text}: the port must be a number from 0 (any free port) to 65535`);
  return { host: m[1]!, port };
}

/** HOST:PORT as a URL authority (IPv6 hosts in brackets). */
export function formatAddress(a: ListenAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** The `--metrics HOST:PORT` option of a command: undefined when not given. */
export function parseMetricsOption(text: string | undefined): ListenAddress | undefined {
  return text === undefined ? undefined : parseListenAddress(text, '--metrics');
}
