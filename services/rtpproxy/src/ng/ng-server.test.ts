import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { bdecode, bencode, isDict, type BencodeDict } from '@voip/ng';
import { pino } from 'pino';
import { COUNTER_FIELDS } from '../media/relay-protocol.js';
import { splitPortRange, type MediaWorkers, type OpenResult } from '../media/relay-worker-pool.js';
import { RtpSessionTable } from '../media/rtp-session-table.js';
import { NgClient } from './ng-client.js';
import { NgServer } from './ng-server.js';

/** Media workers that only count binds: the ng layer is under test here, not forwarding. */
class CountingWorkers implements MediaWorkers {
  readonly slices = splitPortRange(30000, 30099, 1);
  readonly shared = [new Float64Array(50 * COUNTER_FIELDS)];
  opens = 0;
  onLatched = null;
  async open(): Promise<OpenResult> {
    this.opens++;
    return { ok: true };
  }
  close(): void {}
  target(): void {}
  counters(w: number): Float64Array {
    return this.shared[w];
  }
  async stop(): Promise<void> {}
}

const SDP = 'v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n';

describe('NgServer', () => {
  const workers = new CountingWorkers();
  const table = new RtpSessionTable(workers, [{ name: 'default', ip: '127.0.0.1', advertised: '127.0.0.1', family: 4 }], {
    maxSessions: 10,
    timeoutSeconds: 60,
  });
  const server = new NgServer({ address: '127.0.0.1', port: 0, table, log: pino({ level: 'silent' }), replyCacheSeconds: 30, observer: null });
  const raw = createSocket('udp4');
  let port = 0;
  let client: NgClient;

  before(async () => {
    port = (await server.start()).port;
    client = new NgClient('127.0.0.1', port, { timeoutMs: 500 });
    await new Promise<void>((r) => raw.bind(0, '127.0.0.1', () => r()));
  });
  after(async () => {
    client.close();
    raw.close();
    await server.stop();
  });

  function rawRequest(datagram: Buffer): Promise<{ cookie: string; reply: BencodeDict }> {
    return new Promise((resolve) => {
      raw.once('message', (msg) => {
        const sp = msg.indexOf(0x20);
        const d = bdecode(msg, sp + 1);
        assert.ok(d.ok && isDict(d.value));
        resolve({ cookie: msg.toString('latin1', 0, sp), reply: d.value });
      });
      raw.send(datagram, port, '127.0.0.1');
    });
  }

  it('answers ping with pong', async () => {
    assert.equal((await client.request('ping'))['result'], 'pong');
  });

  it('answers a retransmitted offer (same cookie) from its cache without binding again', async () => {
    const msg = Buffer.concat([Buffer.from('retx1 '), bencode({ command: 'offer', 'call-id': 'r1', 'from-tag': 'a', sdp: SDP })]);
    const first = await rawRequest(msg);
    const opens = workers.opens;
    const second = await rawRequest(msg);
    assert.equal(first.cookie, 'retx1');
    assert.equal(first.reply['result'], 'ok');
    assert.deepEqual(second.reply, first.reply);
    assert.equal(workers.opens, opens);
  });

  it('replies with result error and error-reason to bad requests', async () => {
    const bad = await rawRequest(Buffer.from('c1 d7:command'));
    assert.equal(bad.reply['result'], 'error');
    assert.match(String(bad.reply['error-reason']), /Failed to decode bencode message/);
    const unknown = await client.request('frobnicate');
    assert.equal(unknown['result'], 'error');
    assert.match(String(unknown['error-reason']), /Unrecognized command/);
    const noCall = await client.request('query', { 'call-id': 'nope' });
    assert.equal(noCall['error-reason'], 'Unknown call-id');
    const noSdp = await client.request('offer', { 'call-id': 'x', 'from-tag': 'a' });
    assert.equal(noSdp['error-reason'], 'No SDP body in message');
  });

  it('runs offer, answer, query, list, statistics and delete', async () => {
    const o = await client.ok('offer', { 'call-id': 'full', 'from-tag': 'a', sdp: SDP, replace: ['origin'] });
    assert.match(String(o['sdp']), /o=- 1 1 IN IP4 127\.0\.0\.1/);
    const a = await client.ok('answer', { 'call-id': 'full', 'from-tag': 'a', 'to-tag': 'b', sdp: SDP });
    assert.match(String(a['sdp']), /m=audio 300\d\d RTP\/AVP 0/);
    const q = await client.ok('query', { 'call-id': 'full' });
    assert.ok(isDict(q['tags']) && 'a' in q['tags'] && 'b' in q['tags']);
    const l = await client.ok('list');
    assert.ok(Array.isArray(l['calls']) && l['calls'].includes('full'));
    const s = await client.ok('statistics');
    assert.ok(isDict(s['statistics']));
    await client.ok('delete', { 'call-id': 'full', 'from-tag': 'a' });
    assert.equal((await client.request('delete', { 'call-id': 'full' }))['result'], 'error');
  });

  it('drops datagrams without a cookie and keeps serving', async () => {
    raw.send(Buffer.from('no-cookie-here'), port, '127.0.0.1');
    raw.send(Buffer.alloc(0), port, '127.0.0.1');
    assert.equal((await client.request('ping'))['result'], 'pong');
  });
});
