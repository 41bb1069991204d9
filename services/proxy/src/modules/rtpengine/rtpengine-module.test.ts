import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SipRequest, parseUri, silentLogger } from '@voip/sip';
import { ConfigError, parseConfig } from '../../config.js';
import { FakeNgServer } from './fake-ng-server.js';
import { parseRelayUrl } from './ng-relay-set.js';
import { init, type RtpengineModule, type RtpengineSettings } from './rtpengine-module.js';

const SDP = 'v=0\r\no=- 1 1 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n';

function settings(relays: string[], over: Partial<RtpengineSettings> = {}): RtpengineSettings {
  return { relays, engage: 'nat', flags: ['symmetric'], replace: ['origin', 'session-connection'], ice: 'remove', timeout: 50, tries: 2, pingInterval: 0, affinityTtl: 3600, ...over };
}

function invite(): SipRequest {
  const uri = parseUri('sip:bob@example.com');
  if (!('scheme' in uri)) throw new Error('uri');
  const r = new SipRequest('INVITE', uri);
  r.headers.set('Content-Type', 'application/sdp');
  r.body = Buffer.from(SDP);
  return r;
}

describe('parseRelayUrl', () => {
  test('udp:IP:PORT and udp:[v6]:PORT; anything else is refused', () => {
    assert.deepEqual(parseRelayUrl('udp:127.0.0.1:2223'), { address: '127.0.0.1', port: 2223 });
    assert.deepEqual(parseRelayUrl('udp:[::1]:2223'), { address: '::1', port: 2223 });
    assert.equal(parseRelayUrl('tcp:127.0.0.1:2223'), null);
    assert.equal(parseRelayUrl('udp:relay.example.com:2223'), null);
    assert.equal(parseRelayUrl('udp:127.0.0.1:70000'), null);
  });
});

describe('nat and rtpengine configuration', () => {
  test('defaults: provider flags, no relay, keepalives every 20 s', () => {
    const c = parseConfig({});
    assert.deepEqual(c.rtpengine.relays, []);
    assert.deepEqual(c.rtpengine.flags, ['symmetric']);
    assert.deepEqual(c.rtpengine.replace, ['origin', 'session-connection']);
    assert.equal(c.rtpengine.ice, 'remove');
    assert.equal(c.nat.keepalive.interval, 20);
    assert.deepEqual(c.nat.tests, ['contact-private', 'via-received', 'via-port']);
  });

  test('a relay that is not udp:IP:PORT, an unknown test or engage mode is refused', () => {
    assert.throws(() => parseConfig({ rtpengine: { relays: ['tcp:127.0.0.1:2223'] } }), ConfigError);
    assert.throws(() => parseConfig({ rtpengine: { relays: ['udp:relay.example.com:2223'] } }), ConfigError);
    assert.throws(() => parseConfig({ rtpengine: { engage: 'sometimes' } }), ConfigError);
    assert.throws(() => parseConfig({ nat: { tests: ['contact-public'] } }), ConfigError);
    assert.deepEqual(parseConfig({ rtpengine: { relays: ['udp:[::1]:2223'] } }).rtpengine.relays, ['udp:[::1]:2223']);
  });
});

describe('rtpengine module against fake ng relays', () => {
  let a: FakeNgServer;
  let b: FakeNgServer;
  const modules: RtpengineModule[] = [];
  before(async () => {
    a = await FakeNgServer.start('192.0.2.10');
    b = await FakeNgServer.start('192.0.2.20');
  });
  after(() => {
    for (const m of modules) m.close();
    a.close();
    b.close();
  });
  function module(relays: string[], over: Partial<RtpengineSettings> = {}): RtpengineModule {
    const m = init({ settings: settings(relays, over), logger: silentLogger });
    modules.push(m);
    return m;
  }

  test('offer rewrites the SDP with the provider flags, answer and delete go to the same relay', async () => {
    a.silent = false;
    const m = module([a.url]);
    const inv = invite();
    assert.equal(await m.offer(inv, { callId: 'c1', fromTag: 'ft', toTag: null, receivedFrom: '198.51.100.2' }), true);
    assert.match(inv.body.toString(), /c=IN IP4 192\.0\.2\.10/);
    const offer = a.commands.find((c) => c['command'] === 'offer' && c['call-id'] === 'c1')!;
    assert.deepEqual(offer['flags'], ['symmetric']);
    assert.deepEqual(offer['replace'], ['origin', 'session-connection']);
    assert.equal(offer['ICE'], 'remove');
    assert.deepEqual(offer['received-from'], ['IP4', '198.51.100.2']);
    assert.ok(!JSON.stringify(offer).includes('trust-address'));
    assert.equal(m.isEngaged('c1'), true);
    const ok = invite();
    assert.equal(await m.answer(ok, { callId: 'c1', fromTag: 'ft', toTag: 'tt', receivedFrom: null }), true);
    await m.delete('c1');
    assert.equal(m.isEngaged('c1'), false);
    assert.equal(a.calls.has('c1'), false);
  });

  test('a dead relay is skipped for a new call (failover) and marked down', async () => {
    a.silent = true;
    const m = module([a.url, b.url]);
    // Find Call-IDs whose hash puts the dead relay first.
    let callId = '';
    for (let i = 0; i < 100; i++) {
      if (m.relaySet.candidates(`fo-${i}`)[0]!.url === a.url) {
        callId = `fo-${i}`;
        break;
      }
    }
    const inv = invite();
    assert.equal(await m.offer(inv, { callId, fromTag: 'x', toTag: null, receivedFrom: null }), true);
    assert.match(inv.body.toString(), /192\.0\.2\.20/);
    assert.equal(m.relaySet.relays[0]!.up, false);
    assert.ok(b.calls.has(callId));
    // Down relays go last for the next call, whatever its hash.
    assert.equal(m.relaySet.candidates(callId)[0]!.url, b.url);
    await m.delete(callId);
    assert.equal(b.calls.has(callId), false);
    a.silent = false;
  });

  test('ng ping brings a relay back up', async () => {
    a.silent = true;
    const m = module([a.url]);
    await m.relaySet.ping();
    assert.equal(m.relaySet.relays[0]!.up, false);
    a.silent = false;
    await m.relaySet.ping();
    assert.equal(m.relaySet.relays[0]!.up, true);
  });

  test('with every relay silent the offer is false and the SDP stays as sent', async () => {
    a.silent = true;
    b.silent = true;
    const m = module([a.url, b.url]);
    const inv = invite();
    assert.equal(await m.offer(inv, { callId: 'dead', fromTag: 'x', toTag: null, receivedFrom: null }), false);
    assert.equal(inv.body.toString(), SDP);
    assert.equal(m.isEngaged('dead'), false);
    a.silent = false;
    b.silent = false;
  });

  test('a failed new call (final >= 300) deletes its session; a failed re-INVITE does not', async () => {
    const m = module([a.url]);
    const inv = invite();
    inv.headers.set('Call-ID', 'fail-1');
    inv.headers.set('From', '<sip:a@example.com>;tag=1');
    inv.headers.set('To', '<sip:b@example.com>');
    assert.equal(await m.offer(inv, { callId: 'fail-1', fromTag: '1', toTag: null, receivedFrom: null }), true);
    const reinvite = inv.clone();
    reinvite.headers.set('To', '<sip:b@example.com>;tag=2');
    const flags = new Set<string>();
    const source = { protocol: 'UDP' as const, address: '127.0.0.1', port: 1, local: { protocol: 'UDP' as const, address: '127.0.0.1', port: 2 }, connectionId: null };
    const { SipResponse } = await import('@voip/sip');
    m.onFinalResponse({ received: reinvite, routed: reinvite, response: new SipResponse(491, 'Request Pending'), source, flags, avps: new Map() });
    assert.equal(m.isEngaged('fail-1'), true);
    m.onFinalResponse({ received: inv, routed: inv, response: new SipResponse(487, 'Request Terminated'), source, flags, avps: new Map() });
    assert.equal(m.isEngaged('fail-1'), false);
    for (let i = 0; i < 50 && a.calls.has('fail-1'); i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(a.calls.has('fail-1'), false);
  });
});
