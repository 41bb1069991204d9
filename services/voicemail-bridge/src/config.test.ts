import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configFromEnv, loadConfig } from './config.js';
import { VoicemailError } from './errors.js';

describe('config', () => {
  it('defaults: builtin, udp:127.0.0.1:5080, HTTP 127.0.0.1:9902, 180 s max, 1 s min; frozen', () => {
    const c = loadConfig({ db: 'file:subs.yaml' });
    assert.equal(c.backend, 'builtin');
    assert.deepEqual(c.listen, [{ protocol: 'UDP', address: '127.0.0.1', port: 5080 }]);
    assert.deepEqual(c.http, { address: '127.0.0.1', port: 9902 });
    assert.equal(c.recording.maxSeconds, 180);
    assert.equal(c.recording.minSeconds, 1);
    assert.equal(c.proxy, null);
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.media));
  });

  it('layers merge (file < env < CLI), nested objects key by key', () => {
    const c = loadConfig(
      { db: 'file:a.yaml', media: { ip: '127.0.0.2', ports: '30000-30100' } },
      configFromEnv({ VOICEMAIL_LISTEN: 'udp:127.0.0.1:5090, tcp:[::1]:5090', VOICEMAIL_PROXY: 'sip:127.0.0.1:5060' }),
      { media: { ports: '32000-32100' } },
    );
    assert.equal(c.media.ip, '127.0.0.2');
    assert.deepEqual(c.media.ports, { min: 32000, max: 32100 });
    assert.deepEqual(c.listen[1], { protocol: 'TCP', address: '::1', port: 5090 });
    assert.deepEqual(c.proxy, { host: '127.0.0.1', port: 5060, protocol: 'UDP', uri: 'sip:127.0.0.1:5060' });
  });

  it('refuses bad values with the path in the message', () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{}, /db/],
      [{ db: 'postgres://x' }, /db/],
      [{ db: 'file:x', listen: ['sctp:1.2.3.4:5'] }, /listen/],
      [{ db: 'file:x', proxy: 'http://x' }, /proxy/],
      [{ db: 'file:x', recording: { minSeconds: 10, maxSeconds: 5 } }, /recording/],
      [{ db: 'file:x', media: { ports: '100-50' } }, /media\.ports/],
      [{ db: 'file:x', unknown: 1 }, /unknown|Unrecognized/i],
    ];
    for (const [input, re] of bad) {
      assert.throws(() => loadConfig(input as never), (e: unknown) => e instanceof VoicemailError && e.code === 'VM_ERR_CONFIG' && re.test(e.message), JSON.stringify(input));
    }
  });
});
