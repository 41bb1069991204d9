import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { ConfigError, loadConfig, parseConfig } from './config.js';

test('defaults: memory proxy on loopback UDP+TCP 5060, stateful, T1 500 ms', () => {
  const c = parseConfig({});
  assert.deepEqual(c.listen, [
    { protocol: 'UDP', address: '127.0.0.1', port: 5060 },
    { protocol: 'TCP', address: '127.0.0.1', port: 5060 },
  ]);
  assert.equal(c.relayMode, 'stateful');
  assert.equal(c.timers.t1, 500);
  assert.equal(c.registrar.minExpires, 60);
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.timers));
});

test('listen addresses parse IPv4, IPv6 and reject garbage with a clear path', () => {
  const c = parseConfig({ listen: ['udp:[::1]:5070', 'tcp:10.0.0.1:5060'] });
  assert.deepEqual(c.listen[0], { protocol: 'UDP', address: '::1', port: 5070 });
  assert.throws(() => parseConfig({ listen: ['sctp:1.2.3.4:5060'] }), (e: unknown) => e instanceof ConfigError && /listen\.0/.test(e.message));
  assert.throws(() => parseConfig({ listen: ['udp:1.2.3.4:99999'] }), ConfigError);
});

test('unknown keys and out-of-range values are rejected, every problem listed', () => {
  assert.throws(
    () => parseConfig({ lissten: [], timers: { t1: 1 } }),
    (e: unknown) => e instanceof ConfigError && /lissten|Unrecognized/.test(e.message) && /timers\.t1/.test(e.message),
  );
});

test('file, then environment, then command line: later wins', () => {
  const dir = mkdtempSync(join(tmpdir(), 'proxycfg-'));
  const file = join(dir, 'proxy.yaml');
  writeFileSync(file, 'listen: ["udp:127.0.0.1:5080"]\ndomains: [example.com]\nlogLevel: warn\ntimers: { t1: 100 }\n');
  const c = loadConfig({ file, env: { SIP_PROXY_LOG_LEVEL: 'debug' }, cli: { domains: ['voip.example.org'] } });
  assert.equal(c.listen[0]!.port, 5080);
  assert.equal(c.logLevel, 'debug');
  assert.deepEqual(c.domains, ['voip.example.org']);
  assert.equal(c.timers.t1, 100);
  assert.equal(c.timers.t2, 4000);
});

test('SIP_PROXY_VOICEMAIL_URI replaces the file\'s voicemail.uri and keeps the rest of the section', () => {
  const dir = mkdtempSync(join(tmpdir(), 'proxycfg-'));
  const file = join(dir, 'proxy.yaml');
  writeFileSync(file, 'voicemail: { uri: "sip:172.30.45.13:5080" }\n');
  assert.equal(loadConfig({ file }).voicemail.uri, 'sip:172.30.45.13:5080');
  const c = loadConfig({ file, env: { SIP_PROXY_VOICEMAIL_URI: 'sip:172.30.45.12:5060' } });
  assert.equal(c.voicemail.uri, 'sip:172.30.45.12:5060');
  assert.throws(() => loadConfig({ file, env: { SIP_PROXY_VOICEMAIL_URI: 'http://x' } }), /voicemail\.uri must be a sip: URI/);
});

test('voicemail.mwiUri: optional, from SIP_PROXY_VOICEMAIL_MWI_URI, each env var keeps the other key of the section', () => {
  assert.equal(parseConfig({}).voicemail.mwiUri, undefined);
  const dir = mkdtempSync(join(tmpdir(), 'proxycfg-'));
  const file = join(dir, 'proxy.yaml');
  writeFileSync(file, 'voicemail: { uri: "sip:172.30.45.12:5060", mailboxAccess: "*97" }\n');
  // Asterisk takes the calls, the bridge the subscriptions.
  const c = loadConfig({ file, env: { SIP_PROXY_VOICEMAIL_MWI_URI: 'sip:172.30.45.13:5080' } });
  assert.equal(c.voicemail.uri, 'sip:172.30.45.12:5060');
  assert.equal(c.voicemail.mwiUri, 'sip:172.30.45.13:5080');
  assert.equal(c.voicemail.mailboxAccess, '*97');
  const both = loadConfig({ env: { SIP_PROXY_VOICEMAIL_URI: 'sip:10.0.0.2:5060', SIP_PROXY_VOICEMAIL_MWI_URI: 'sip:10.0.0.3:5080' } });
  assert.equal(both.voicemail.uri, 'sip:10.0.0.2:5060');
  assert.equal(both.voicemail.mwiUri, 'sip:10.0.0.3:5080');
  assert.throws(() => loadConfig({ env: { SIP_PROXY_VOICEMAIL_MWI_URI: 'http://x' } }), /voicemail\.mwiUri must be a sip: URI/);
});

test('an unreadable or non-mapping file is a ConfigError naming the file', () => {
  assert.throws(() => loadConfig({ file: '/nonexistent/proxy.yaml' }), /cannot read config file \/nonexistent/);
  const dir = mkdtempSync(join(tmpdir(), 'proxycfg-'));
  const file = join(dir, 'bad.yaml');
  writeFileSync(file, '- just\n- a list\n');
  assert.throws(() => loadConfig({ file }), /not valid YAML\/JSON: top level must be a mapping/);
});

test('edge defaults: MD5 only, guessing limits, pike with loopback trusted, overload on; bad networks refused', () => {
  const c = parseConfig({});
  assert.deepEqual(c.auth.algorithms, ['MD5']);
  assert.equal(c.auth.guessing.maxFailuresPerUser, 10);
  assert.equal(c.auth.guessing.action, 'reply');
  assert.deepEqual(c.pike.trusted, ['127.0.0.0/8', '::1/128']);
  assert.equal(c.secfilter.userAgents.includes('friendly-scanner'), true);
  assert.equal(c.overload.enabled, true);
  assert.equal(c.stateDir, undefined);
  assert.equal(loadConfig({ env: { SIP_PROXY_STATE_DIR: '/srv/sip' } }).stateDir, '/srv/sip');
  assert.equal(parseConfig({ serverHeader: '' }).serverHeader, '');
  assert.throws(() => parseConfig({ pike: { trusted: ['not a network'] } }), /pike\.trusted/);
});

test('worker model: dispatch by default, reuseport on request; worker young generation 16 MB unless set', () => {
  const d = parseConfig({});
  assert.equal(d.workerModel, 'dispatch');
  assert.equal(d.workerYoungGenerationMb, 16);
  assert.equal(d.warmUpCalls, 1000);
  assert.equal(parseConfig({ warmUpCalls: 0 }).warmUpCalls, 0);
  const r = parseConfig({ workers: 2, workerModel: 'reuseport', workerYoungGenerationMb: 3 });
  assert.equal(r.workerModel, 'reuseport');
  assert.equal(r.workerYoungGenerationMb, 3);
  assert.throws(() => parseConfig({ workerModel: 'fork' }), ConfigError);
  assert.throws(() => parseConfig({ workerYoungGenerationMb: 0 }), ConfigError);
});
