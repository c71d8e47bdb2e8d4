import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ListenAddressError, formatAddress, parseListenAddress, parseMetricsOption } from '../../../shared/prometheus/listen_address.js';

describe('metrics listen address', () => {
  it('parses HOST:PORT, [v6]:PORT and port 0', () => {
    assert.deepEqual(parseListenAddress('0.0.0.0:9464', '--metrics'), { host: '0.0.0.0', port: 9464 });
    assert.deepEqual(parseListenAddress('[::1]:0', '--metrics'), { host: '::1', port: 0 });
    assert.deepEqual(parseMetricsOption('localhost:65535'), { host: 'localhost', port: 65535 });
    assert.equal(parseMetricsOption(undefined), undefined);
    assert.equal(formatAddress({ host: '::1', port: 5 }), '[::1]:5');
  });

  it('names the flag for malformed addresses', () => {
    for (const bad of ['9464', ':9464', 'host:', 'host:port', 'host:70000', 'http://host:1', 'a:b:c']) {
      assert.throws(() => parseListenAddress(bad, '--metrics'), (e: unknown) => e instanceof ListenAddressError && e.message.startsWith(`--metrics ${bad}: `), bad);
    }
  });
});
