// Config text to tree: keys that reach a prototype are refused wherever they are (with file, line and
// column), never written onto Object.prototype; the size cap holds for text and for files.

import assert from 'node:assert/strict';
import { truncateSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ConfigError, applyOverrides, loadConfig, parseConfigText } from '../../shared/config/index.js';
import { MAX_CONFIG_BYTES, parseConfigYaml } from '../../shared/config/yaml_text.js';
import { makeProject } from './project.js';

const REQUIRED = 'model:\n  checkpoint: null\ndata:\n  train: null\n';

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a ConfigError');
}

const prototypeKeys = (): string[] => Object.getOwnPropertyNames(Object.prototype).sort();

describe('keys that reach a prototype', () => {
  const cases: [string, string, { key: string; line: number; column: number }][] = [
    ['a top-level __proto__', `${REQUIRED}__proto__:\n  toString: 1\n`, { key: '__proto__', line: 5, column: 1 }],
    ['__proto__ inside a section', `model:\n  checkpoint: null\n  __proto__:\n    valueOf: 2\ndata:\n  train: null\n`, { key: 'model.__proto__', line: 3, column: 3 }],
    ['constructor inside a section', `${REQUIRED}train:\n  constructor:\n    prototype:\n      polluted: 1\n`, { key: 'train.constructor', line: 6, column: 3 }],
    ['prototype in a reference section', `${REQUIRED}SAM:\n  prototype: 3\n`, { key: 'SAM.prototype', line: 6, column: 3 }],
    ['__proto__ in a flow mapping in a list', `${REQUIRED}lora:\n  targets: [q, {__proto__: {x: 1}}]\n`, { key: 'lora.targets.__proto__', line: 6, column: 17 }],
    ['a quoted "__proto__"', `${REQUIRED}"__proto__": {polluted: true}\n`, { key: '__proto__', line: 5, column: 1 }],
  ];
  for (const [name, text, want] of cases) {
    it(`refuses ${name} with its line and column`, () => {
      const before = prototypeKeys();
      const err = configError(() => parseConfigText(text, '/cfg/evil.yaml', { checkPaths: false }));
      assert.equal(err.file, '/cfg/evil.yaml');
      const p = err.problems.find((x) => x.key === want.key);
      assert.ok(p, `no problem for ${want.key} in ${err.message}`);
      assert.equal(p.line, want.line);
      assert.equal(p.column, want.column);
      assert.match(err.message, new RegExp(`/cfg/evil\\.yaml:${want.line}:${want.column}: .*not allowed as a key`));
      assert.deepEqual(prototypeKeys(), before);
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    });
  }

  it('refuses them in --set keys and in --set values, and leaves Object.prototype alone', () => {
    const before = prototypeKeys();
    const err = configError(() =>
      parseConfigText(REQUIRED, '/cfg/ok.yaml', {
        checkPaths: false,
        overrides: { '__proto__.toString': '1', 'train.constructor': '2', 'train.augment': '{__proto__: {polluted: 1}}', 'lora.targets': '[{prototype: 1}]' },
      }),
    );
    assert.deepEqual(err.problems.map((p) => [p.key, p.source]), [
      ['__proto__.toString', 'command line'],
      ['train.constructor', 'command line'],
      ['train.augment', 'command line'],
      ['lora.targets', 'command line'],
    ]);
    for (const p of err.problems) assert.match(p.message, /not allowed as a key/);
    assert.deepEqual(prototypeKeys(), before);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('refuses them when overriding a resolved configuration (the worker path)', () => {
    const config = parseConfigText(REQUIRED, '/cfg/ok.yaml', { checkPaths: false });
    const err = configError(() => applyOverrides(config, { 'model.__proto__.valueOf': '1' }, { checkPaths: false }));
    assert.match(err.message, /"__proto__" is not allowed/);
    assert.equal(Object.getOwnPropertyNames(Object.prototype).includes('valueOf'), true);
    assert.equal(typeof Object.prototype.valueOf, 'function');
  });

  it('still accepts the words as values', () => {
    const c = parseConfigText(`${REQUIRED}checkpoint:\n  dir: __proto__\n`, '/cfg/ok.yaml', { checkPaths: false });
    assert.equal(c.checkpoint.dir, '/cfg/__proto__');
  });
});

describe('configuration size', () => {
  it('refuses text over the cap before parsing it', () => {
    const text = `${REQUIRED}# ${'x'.repeat(MAX_CONFIG_BYTES)}\n`;
    const err = configError(() => parseConfigYaml(text, '/cfg/big.yaml'));
    assert.match(err.message, /\/cfg\/big\.yaml .*more than the 1048576 a configuration may have/s);
  });

  it('refuses a 50 MB file by its size, without reading it', async () => {
    const project = makeProject();
    const file = project.write('huge.yaml', REQUIRED);
    truncateSync(file, 50 * 1024 * 1024);
    await assert.rejects(loadConfig(file, {}, { checkPaths: false }), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.file, file);
      assert.match(e.message, /is 52428800 bytes, more than the 1048576/);
      return true;
    });
  });

  it('accepts a file at the cap', async () => {
    const project = makeProject();
    const file = project.write('padded.yaml', `${REQUIRED}#${' '.repeat(MAX_CONFIG_BYTES - REQUIRED.length - 2)}\n`);
    const c = await loadConfig(file, {}, { checkPaths: false });
    assert.equal(c.data.train, null);
  });
});
