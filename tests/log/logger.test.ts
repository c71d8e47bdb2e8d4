// The shared logger: JSON records with the process's bindings and the run id, level filtering,
// --log-file, --log-pretty, the flags' validation, the dashboard's deferred file, and reading a
// worker's lines back.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { DeferredFileDestination } from '../../shared/log/deferred_destination.js';
import { parseLogLine } from '../../shared/log/log_line.js';
import { createLogger } from '../../shared/log/logger.js';
import { LogSettingsError, logSettingsFromArgs } from '../../shared/log/log_settings.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-log-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function collector(): { lines: string[]; write: (s: string) => void } {
  const lines: string[] = [];
  return { lines, write: (s) => void lines.push(...s.split('\n').filter(Boolean)) };
}

describe('logger', () => {
  it('writes one JSON record a line with its bindings, a child adds the run id, levels filter', () => {
    const out = collector();
    const log = createLogger({ level: 'info', pretty: false }, { bindings: { role: 'coordinator' }, destination: out });
    log.debug('hidden');
    log.child({ runId: '20260101-120000' }).warn({ workerId: 'w-1' }, 'worker w-1 left');
    assert.equal(out.lines.length, 1);
    const rec = JSON.parse(out.lines[0]!) as Record<string, unknown>;
    assert.equal(rec.level, 40);
    assert.equal(rec.role, 'coordinator');
    assert.equal(rec.runId, '20260101-120000');
    assert.equal(rec.workerId, 'w-1');
    assert.equal(rec.msg, 'worker w-1 left');
    assert.equal(typeof rec.time, 'number');
  });

  it('--log-file appends JSON to the file (its directory created); --log-pretty writes readable lines', () => {
    const file = path.join(tmp, 'sub', 'run.log');
    createLogger({ level: 'debug', pretty: false, file }).debug('to the file');
    createLogger({ level: 'info', pretty: false, file }).info('again');
    const recs = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { msg: string });
    assert.deepEqual(
      recs.map((r) => r.msg),
      ['to the file', 'again'],
    );
    const out = collector();
    createLogger({ level: 'info', pretty: true }, { destination: out }).info({ step: 3 }, 'hello pretty');
    assert.match(out.lines[0]!, /INFO.*hello pretty/);
    assert.throws(() => JSON.parse(out.lines[0]!));
    assert.ok(out.lines.some((l) => /step: 3/.test(l)));
  });

  it('checks the flags', () => {
    assert.deepEqual(logSettingsFromArgs({}), { level: 'info', pretty: false });
    assert.deepEqual(logSettingsFromArgs({ 'log-level': 'debug', 'log-file': 'x.log', 'log-pretty': true }), { level: 'debug', pretty: true, file: 'x.log' });
    assert.throws(() => logSettingsFromArgs({ 'log-level': 'verbose' }), (e: Error) => e instanceof LogSettingsError && /--log-level verbose: expected one of trace, debug, info/.test(e.message));
    assert.throws(() => logSettingsFromArgs({ 'log-file': '' }), LogSettingsError);
  });

  it('the deferred destination keeps records until its file is known, or hands them on', () => {
    const d = new DeferredFileDestination();
    const log = createLogger({ level: 'info', pretty: false }, { destination: d });
    log.info('early');
    const file = path.join(tmp, 'run-dir', 'coordinator.log');
    d.open(file);
    log.info('late');
    assert.deepEqual(
      readFileSync(file, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { msg: string }).msg),
      ['early', 'late'],
    );
    assert.equal(d.file, file);

    const never = new DeferredFileDestination();
    never.write('a\n');
    const out = collector();
    never.drainTo(out.write);
    never.write('b\n');
    assert.deepEqual(out.lines, ['a', 'b']);
  });

  it("reads a worker's line back: a JSON record's level and message, or plain text as a warning", () => {
    assert.deepEqual(parseLogLine('{"level":30,"time":1,"role":"worker","msg":"joined run r as h-1"}'), { level: 'info', text: 'joined run r as h-1' });
    assert.deepEqual(parseLogLine('{"level":40,"msg":"connection failed; retrying"}'), { level: 'warn', text: 'connection failed; retrying' });
    assert.deepEqual(parseLogLine('{"level":60,"msg":"boom"}'), { level: 'error', text: 'boom' });
    assert.deepEqual(parseLogLine('sam-lora worker: refused: wrong token'), { level: 'warn', text: 'sam-lora worker: refused: wrong token' });
    assert.deepEqual(parseLogLine('{not json'), { level: 'warn', text: '{not json' });
    assert.equal(parseLogLine('   '), null);
  });
});
