import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, configFromEnv, configFromFile, loadConfig } from './config.js';

describe('config', () => {
  it('has working defaults and is frozen', () => {
    const c = loadConfig({ workers: 2 });
    assert.deepEqual(c.ng, { address: '127.0.0.1', port: 22222 });
    assert.deepEqual(c.ports, { min: 30000, max: 40000 });
    assert.equal(c.timeout, 60);
    assert.ok(Object.isFrozen(c));
    assert.ok(Object.isFrozen(c.mediaIp[0]));
  });

  it('parses the CLI notations (ng, media interfaces with names and advertised address, ports)', () => {
    const c = loadConfig({
      ng: 'udp:[::1]:2223',
      mediaIp: ['pub/192.0.2.10!203.0.113.10', 'pub/2001:db8::10', 'priv/10.0.0.1'],
      ports: '20000-20099',
      http: 'off',
      workers: 2,
    });
    assert.deepEqual(c.ng, { address: '::1', port: 2223 });
    assert.deepEqual(c.mediaIp[0], { name: 'pub', ip: '192.0.2.10', advertised: '203.0.113.10', family: 4 });
    assert.deepEqual(c.mediaIp[1], { name: 'pub', ip: '2001:db8::10', advertised: '2001:db8::10', family: 6 });
    assert.equal(c.http, 'off');
  });

  it('layers file < env < CLI', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rtp-relay-cfg-'));
    try {
      const f = join(dir, 'relay.yaml');
      writeFileSync(f, 'timeout: 10\nmaxSessions: 5\nports: "31000-31999"\n');
      const c = loadConfig(configFromFile(f), configFromEnv({ RTP_RELAY_TIMEOUT: '20', RTP_RELAY_MEDIA_IP: '127.0.0.1,::1' }), { maxSessions: 7, workers: 1 });
      assert.equal(c.timeout, 20);
      assert.equal(c.maxSessions, 7);
      assert.deepEqual(c.ports, { min: 31000, max: 31999 });
      assert.equal(c.mediaIp.length, 2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects bad values with a readable message', () => {
    const bad = [
      { ng: 'tcp:127.0.0.1:1' },
      { ng: 'udp:localhost:1' },
      { mediaIp: ['999.1.1.1'] },
      { mediaIp: ['a/127.0.0.1!::1'] },
      { ports: '40000-30000' },
      { ports: '80-90' },
      { timeout: 0 },
      { unknownKey: 1 },
      { mediaIp: ['127.0.0.1', '127.0.0.2'] },
      { ports: '30000-30003', workers: 4 },
    ];
    for (const b of bad) assert.throws(() => loadConfig(b as never), ConfigError, JSON.stringify(b));
  });
});
