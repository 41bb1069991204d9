/**
 * Route selection and the provider route's configuration: defaults (the book's plan and
 * phrases), bounds, and the refusal to run a database route without a database.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '@voip/sip';
import { ConfigError, parseConfig } from './config.js';
import { startProxy } from './server.js';

test('defaults: no explicit route; the North-American dial plan with the book\'s 403 phrases', () => {
  const c = parseConfig({});
  assert.equal(c.route, undefined);
  assert.deepEqual(c.dialplan.rules.map((r) => [r.group, r.strip, r.prefix]), [['local', 0, '+1'], ['ld', 1, '+1'], ['int', 3, '+'], ['ld', 0, ''], ['int', 0, '']]);
  assert.equal(c.dialplan.denyReasons.int, 'No perm. for internat.calls');
  assert.equal(c.lcr.frInvTimeout, 30_000);
  assert.equal(c.callForward.maxChain, 5);
  assert.equal(c.voicemail.uri, undefined);
  assert.equal(c.voicemail.mailboxAccess, '*98');
});

test('bad provider settings are configuration errors', () => {
  assert.throws(() => parseConfig({ route: 'chapter9' }), ConfigError);
  assert.throws(() => parseConfig({ voicemail: { uri: 'mailto:vm@example.com' } }), ConfigError);
  assert.throws(() => parseConfig({ dialplan: { rules: [{ match: '[0-9]+', group: 'x', prefix: 'abc' }] } }), ConfigError);
  assert.throws(() => parseConfig({ lcr: { frInvTimeout: 10 } }), ConfigError);
});

test('route provider or ch5 without a database refuses to start', async () => {
  const config = parseConfig({ listen: ['udp:127.0.0.1:0'], admin: { listen: '' }, logLevel: 'silent', route: 'provider' });
  await assert.rejects(startProxy(config, silentLogger), /needs a database/);
});
