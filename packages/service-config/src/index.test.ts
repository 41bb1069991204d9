import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { configFromEnvTable, deepFreeze, readConfigMapping } from './index.js';

test('configFromEnvTable: ints, lists and strings; empty values are unset', () => {
  const table = { A_PORT: { key: 'port', kind: 'int' }, A_LISTEN: { key: 'listen', kind: 'list' }, A_LOG: { key: 'logLevel', kind: 'string' } } as const;
  assert.deepEqual(configFromEnvTable(table, { A_PORT: '5080', A_LISTEN: 'udp:a:1, tcp:b:2', A_LOG: '' }), { port: 5080, listen: ['udp:a:1', 'tcp:b:2'] });
});

test('readConfigMapping: a mapping, an empty file, and one-line errors through the caller', () => {
  const dir = mkdtempSync(join(tmpdir(), 'service-config-'));
  const fail = (reason: string): Error => new Error(`X: ${reason}`);
  writeFileSync(join(dir, 'a.yaml'), 'http: 127.0.0.1:9902\n');
  writeFileSync(join(dir, 'empty.yaml'), '');
  writeFileSync(join(dir, 'list.yaml'), '- a\n');
  assert.deepEqual(readConfigMapping(join(dir, 'a.yaml'), fail), { http: '127.0.0.1:9902' });
  assert.deepEqual(readConfigMapping(join(dir, 'empty.yaml'), fail), {});
  assert.throws(() => readConfigMapping(join(dir, 'list.yaml'), fail), /^Error: X: .*top level must be a mapping$/);
  assert.throws(() => readConfigMapping(join(dir, 'nope.yaml'), fail), /X: cannot read config file/);
});

test('deepFreeze freezes nested values', () => {
  const o = deepFreeze({ a: { b: [1] } });
  assert.ok(Object.isFrozen(o.a.b));
});
