import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import radius, { type RadiusPacket } from 'radius';
import { pino } from 'pino';
import type { AccCursor, AccReader, AccReadItem, StoredAccRecord } from '@voip/acc';
import { Emitter, type EmitterOptions } from './emitter.js';
import { ParkingLot } from './parking-lot.js';
import { ProgressStore } from './progress-store.js';
import { Metrics } from '../metrics.js';

const SECRET = 'unit-secret';
const log = pino({ level: process.env.EMITTER_TEST_LOG ?? 'silent' });

/** An in-memory stream of records; cursor = index of the last consumed record. */
class MemoryReader implements AccReader {
  readonly streamId = 'memory:test';
  pos = 0;
  constructor(readonly items: AccReadItem[]) {}
  initialCursor(): AccCursor {
    return { source: 'journal', journalId: 'mem', offset: 0, lastId: 0 };
  }
  accepts(c: AccCursor): boolean {
    return c.source === 'journal' && c.journalId === 'mem';
  }
  async seek(c: AccCursor): Promise<void> {
    this.pos = c.source === 'journal' ? c.lastId : 0;
  }
  async read(max: number): Promise<AccReadItem[]> {
    const out = this.items.slice(this.pos, this.pos + max);
    this.pos += out.length;
    return out;
  }
  async close(): Promise<void> {}
}

function record(i: number, callid = `call-${i}`): StoredAccRecord {
  return { id: i, kind: 'acc', method: 'INVITE', from_tag: `f${i}`, to_tag: `t${i}`, callid, sip_code: 200, sip_reason: 'OK', time: Date.now(), src_user: 'a', src_domain: 'd', src_ip: '127.0.0.1', dst_ouser: 'b', dst_user: 'b', dst_domain: 'd', user_agent: '' };
}

function items(n: number, callid?: (i: number) => string): AccReadItem[] {
  return Array.from({ length: n }, (_, k) => {
    const i = k + 1;
    return { ok: true as const, key: String(i), cursor: { source: 'journal' as const, journalId: 'mem', offset: i, lastId: i }, record: record(i, callid?.(i)) };
  });
}

/** A RADIUS accounting server that answers according to `policy`. */
class FakeServer {
  readonly socket: Socket;
  readonly received: Buffer[] = [];
  port = 0;
  constructor(readonly policy: (pkt: RadiusPacket, raw: Buffer, copy: number) => boolean) {
    this.socket = createSocket('udp4');
    this.socket.on('message', (msg, rinfo) => {
      this.received.push(msg);
      const pkt = radius.decode({ packet: msg, secret: SECRET });
      const copy = this.received.filter((m) => m.equals(msg)).length;
      if (!this.policy(pkt, msg, copy)) return;
      this.socket.send(radius.encode_response({ packet: pkt, code: 'Accounting-Response', secret: SECRET }), rinfo.port, rinfo.address);
    });
  }
  async start(): Promise<this> {
    await new Promise<void>((r) => this.socket.bind(0, '127.0.0.1', r));
    this.port = this.socket.address().port;
    return this;
  }
  close(): void {
    this.socket.close();
  }
}

let dir = '';
const servers: FakeServer[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'emitter-'));
});
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
  rmSync(dir, { recursive: true, force: true });
});

async function server(policy: FakeServer['policy']): Promise<FakeServer> {
  const s = await new FakeServer(policy).start();
  servers.push(s);
  return s;
}

function options(ports: number[], over: Partial<EmitterOptions> = {}): EmitterOptions {
  return {
    servers: ports.map((port) => ({ host: '127.0.0.1', port })),
    secret: SECRET,
    nas: { nasIdentifier: 'unit' },
    window: 4,
    retransmitMs: 20,
    maxRetransmitMs: 40,
    triesPerServer: 2,
    maxAttempts: 3,
    deadTimeMs: 200,
    pollMs: 10,
    tickMs: 5,
    ...over,
  };
}

async function run(reader: MemoryReader, opts: EmitterOptions, until: (p: ProgressStore) => boolean): Promise<{ progress: ProgressStore; metrics: Metrics }> {
  const progress = new ProgressStore(dir, log);
  const metrics = new Metrics(false);
  const emitter = new Emitter(reader, progress, new ParkingLot(dir, log), metrics, log, opts);
  await emitter.start();
  while (!until(progress)) await new Promise((r) => setTimeout(r, 10));
  await emitter.stop(0);
  return { progress, metrics };
}

function lastId(p: ProgressStore): number {
  const c = p.current()?.cursor;
  return c?.source === 'journal' ? c.lastId : 0;
}

async function counter(m: Metrics, name: string): Promise<number> {
  const metric = (await m.registry.getMetricsAsJSON()).find((x) => x.name === name);
  return (metric?.values ?? []).reduce((s, v) => s + Number(v.value), 0);
}

describe('Emitter', () => {
  it('delivers every record and saves the cursor of the last one', async () => {
    const s = await server(() => true);
    const { progress } = await run(new MemoryReader(items(10)), options([s.port]), (p) => lastId(p) === 10);
    await progress.settle();
    const saved = JSON.parse(readFileSync(join(dir, 'progress.json'), 'utf8')) as { cursor: { lastId: number }; settled: number };
    assert.equal(saved.cursor.lastId, 10);
    assert.equal(saved.settled, 10);
    const sessions = new Set(s.received.map((m) => radius.decode({ packet: m, secret: SECRET }).attributes['Acct-Session-Id']));
    assert.equal(sessions.size, 10);
  });

  it('retransmits byte-identical packets (same Identifier and authenticator) to the same server', async () => {
    const s = await server((_p, _raw, copy) => copy >= 2); // drop every first copy
    const { metrics } = await run(new MemoryReader(items(3)), options([s.port]), (p) => lastId(p) === 3);
    assert.ok((await counter(metrics, 'radius_acct_retransmissions_total')) >= 3);
    const firsts = new Map<string, Buffer[]>();
    for (const m of s.received) {
      const id = String(radius.decode({ packet: m, secret: SECRET }).attributes['Acct-Session-Id']);
      firsts.set(id, [...(firsts.get(id) ?? []), m]);
    }
    for (const [, copies] of firsts) assert.ok(copies[1].equals(copies[0]), 'retransmission equals the first send');
  });

  it('fails over to the next server when the first does not answer', async () => {
    const dead = await server(() => false);
    const alive = await server(() => true);
    const { metrics } = await run(new MemoryReader(items(5)), options([dead.port, alive.port], { maxAttempts: 100 }), (p) => lastId(p) === 5);
    assert.ok(dead.received.length > 0);
    assert.equal(new Set(alive.received.map((m) => radius.decode({ packet: m, secret: SECRET }).attributes['Acct-Session-Id'])).size, 5);
    assert.ok((await counter(metrics, 'radius_acct_failovers_total')) >= 1);
    assert.equal(await counter(metrics, 'radius_acct_records_parked_total'), 0);
  });

  it('parks a record the server never answers while it answers the others, and moves on', async () => {
    const s = await server((pkt) => pkt.attributes['Acct-Session-Id'] !== 'poison');
    const reader = new MemoryReader(items(6, (i) => (i === 2 ? 'poison' : `call-${i}`)));
    // Keep other records flowing so the server is seen answering while record 2 is ignored.
    const more = items(60).map((it, k) => ({ ...it, key: String(k + 7), cursor: { source: 'journal' as const, journalId: 'mem', offset: k + 7, lastId: k + 7 } }));
    reader.items.push(...more);
    const { metrics } = await run(reader, options([s.port], { window: 2, maxAttempts: 2 }), (p) => lastId(p) === 66);
    assert.equal(await counter(metrics, 'radius_acct_records_parked_total'), 1);
    const parked = await ParkingLot.readAll(dir);
    assert.equal(parked.length, 1);
    assert.equal(parked[0].key, '2');
    assert.match(parked[0].reason, /while the servers answered other records/);
  });

  it('parks unreadable items without sending them', async () => {
    const s = await server(() => true);
    const list = items(3);
    list[1] = { ok: false, key: 'offset:99', cursor: list[1].cursor, reason: 'corrupt journal line: crc mismatch', raw: '{"id":2' };
    await run(new MemoryReader(list), options([s.port]), (p) => lastId(p) === 3);
    const parked = await ParkingLot.readAll(dir);
    assert.deepEqual(parked.map((e) => [e.key, e.raw]), [['offset:99', '{"id":2']]);
    assert.equal(new Set(s.received.map((m) => radius.decode({ packet: m, secret: SECRET }).attributes['Acct-Session-Id'])).size, 2);
  });

  it('parks nothing during an outage: records wait until the server answers again', async () => {
    let up = false;
    const s = await server(() => up);
    setTimeout(() => (up = true), 300).unref();
    const { metrics } = await run(new MemoryReader(items(4)), options([s.port], { maxAttempts: 3 }), (p) => lastId(p) === 4);
    assert.equal(await counter(metrics, 'radius_acct_records_parked_total'), 0);
  });

  it('resumes after the saved cursor', async () => {
    const s = await server(() => true);
    await run(new MemoryReader(items(3)), options([s.port]), (p) => lastId(p) === 3);
    const before = s.received.length;
    const reader = new MemoryReader(items(5));
    await run(reader, options([s.port]), (p) => lastId(p) === 5);
    const sent = s.received.slice(before).map((m) => radius.decode({ packet: m, secret: SECRET }).attributes['Acct-Session-Id']);
    assert.deepEqual([...new Set(sent)].sort(), ['call-4', 'call-5']);
  });
});
