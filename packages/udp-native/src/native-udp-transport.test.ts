import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MessageSource, TransportAddress, TransportHost } from '@voip/sip';
import { batchQueueWaitMs, forEachDatagram } from './batch.js';
import { closeSharedUdpSocket, NativeUdpTransport, openSharedUdpSocket } from './native-udp-transport.js';
import { requireNative } from './require-native.js';

interface Recorder {
  host: TransportHost;
  received: { text: string; source: MessageSource }[];
  failed: { dest: TransportAddress; err: Error & { code?: string } }[];
}

function recorder(onReceive?: (buf: Buffer, source: MessageSource) => void): Recorder {
  const r: Recorder = {
    received: [],
    failed: [],
    host: {
      log: { error() {}, warn() {}, info() {}, debug() {}, trace() {}, fatal() {}, child() { return this; } } as unknown as TransportHost['log'],
      maxMessageSize: 65_535,
      receive(buf, source) {
        r.received.push({ text: buf.toString('latin1'), source });
        onReceive?.(buf, source);
      },
      streamError() {},
      sendFailed(dest, err) {
        r.failed.push({ dest, err });
      },
    },
  };
  return r;
}

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await sleep(5);
  }
}

async function client(type: 'udp4' | 'udp6', address: string): Promise<{ sock: dgram.Socket; got: { text: string; port: number }[] }> {
  // Answers come in sendmmsg bursts: room for all of them (CI raises net.core.rmem_max).
  const sock = dgram.createSocket({ type, recvBufferSize: 4 * 1024 * 1024 });
  const got: { text: string; port: number }[] = [];
  sock.on('message', (m, rinfo) => got.push({ text: m.toString('latin1'), port: rinfo.port }));
  sock.bind(0, address);
  await once(sock, 'listening');
  return { sock, got };
}

for (const [family, address] of [['udp4', '127.0.0.1'], ['udp6', '::1']] as const) {
  test(`${family}: every datagram arrives once with its peer, and answers leave from the listening port`, async (t) => {
    if (requireNative(t) === null) return;
    let transport: NativeUdpTransport | null = null;
    const r = recorder((buf, source) => transport!.send(Buffer.concat([Buffer.from('re:'), buf]), source.address, source.port));
    transport = await NativeUdpTransport.open(r.host, { protocol: 'UDP', address, port: 0 }, { recvBufferSize: 4 * 1024 * 1024 });
    const c = await client(family, address);
    try {
      assert.equal(transport.local.address, address);
      assert.ok(transport.local.port > 0);
      for (let i = 0; i < 300; i++) c.sock.send(`m${i}`, transport.local.port, address);
      await until(() => c.got.length === 300).catch((e: unknown) => assert.fail(`${String(e)}: received ${r.received.length}, answers ${c.got.length}`));
      assert.deepEqual(new Set(r.received.map((m) => m.text)), new Set(Array.from({ length: 300 }, (_, i) => `m${i}`)));
      assert.equal(r.received.length, 300);
      for (const m of r.received) {
        assert.deepEqual(m.source, { protocol: 'UDP', address, port: c.sock.address().port, local: transport.local, connectionId: null });
      }
      assert.deepEqual(new Set(c.got.map((g) => g.text)), new Set(Array.from({ length: 300 }, (_, i) => `re:m${i}`)));
      assert.ok(c.got.every((g) => g.port === transport!.local.port), 'symmetric: sent from the port we listen on');
      assert.deepEqual(r.failed, []);
    } finally {
      c.sock.close();
      await transport.close();
    }
  });
}

test('a datagram larger than a typical MTU and an empty one arrive whole', async (t) => {
  if (requireNative(t) === null) return;
  const r = recorder();
  const transport = await NativeUdpTransport.open(r.host, { protocol: 'UDP', address: '127.0.0.1', port: 0 });
  const c = await client('udp4', '127.0.0.1');
  try {
    const big = Buffer.alloc(60_000, 0x41);
    c.sock.send(big, transport.local.port, '127.0.0.1');
    c.sock.send(Buffer.alloc(0), transport.local.port, '127.0.0.1');
    await until(() => r.received.length === 2);
    assert.deepEqual(r.received.map((m) => m.text.length).sort((a, b) => a - b), [0, 60_000]);
  } finally {
    c.sock.close();
    await transport.close();
  }
});

test('sends it cannot make are reported to the host, not thrown', async (t) => {
  if (requireNative(t) === null) return;
  const r = recorder();
  const transport = await NativeUdpTransport.open(r.host, { protocol: 'UDP', address: '127.0.0.1', port: 0 });
  transport.send(Buffer.from('x'), '::1', 5060);
  transport.send(Buffer.from('x'), '127.0.0.1', 0);
  transport.send(Buffer.from('x'), '300.1.1.1', 5060);
  await until(() => r.failed.length === 3);
  assert.equal(r.failed[0]!.err.code, 'SIP_ERR_BAD_DESTINATION');
  assert.equal(r.failed[1]!.err.code, 'SIP_ERR_BAD_DESTINATION');
  assert.equal(r.failed[2]!.err.code, 'EINVAL');
  assert.deepEqual(r.failed[2]!.dest, { protocol: 'UDP', address: '300.1.1.1', port: 5060 });
  await transport.close();
  transport.send(Buffer.from('x'), '127.0.0.1', 5060);
  assert.equal(r.failed[3]!.err.code, 'SIP_ERR_TRANSPORT_CLOSED');
});

test('a port in use is refused with EADDRINUSE', async (t) => {
  if (requireNative(t) === null) return;
  const r = recorder();
  const first = await NativeUdpTransport.open(r.host, { protocol: 'UDP', address: '127.0.0.1', port: 0 });
  try {
    await assert.rejects(NativeUdpTransport.open(r.host, { protocol: 'UDP', address: '127.0.0.1', port: first.local.port }), { code: 'EADDRINUSE' });
  } finally {
    await first.close();
  }
});

test('a thread that does not drain loses datagrams beyond its queue, counted as drops', async (t) => {
  const n = requireNative(t);
  if (n === null) return;
  const [fd, port] = n.open('127.0.0.1', 0, 4, 8 * 1024 * 1024, 0);
  const [out] = n.open('127.0.0.1', 0, 4, 0, 8 * 1024 * 1024);
  const receiver = n.startReceiver(fd, 1, 65_536);
  let wakeups = 0;
  n.attach(receiver, 0, () => wakeups++);
  try {
    const payload = Buffer.alloc(1000, 0x42);
    const errors = new Int32Array(200);
    const sent = 200 - n.send(out, 4, Array(200).fill(payload), Array(200).fill('127.0.0.1'), Array(200).fill(port), 200, errors);
    assert.equal(sent, 200);
    // This thread never returns to its event loop meanwhile: the receiver queues what fits.
    const until = Date.now() + 300;
    while (Date.now() < until && (n.stats(receiver)![0] + n.stats(receiver)![1]) < 200);
    const [queued, dropped] = n.stats(receiver)!;
    assert.equal(queued + dropped, 200);
    assert.equal(queued, 65, '65 datagrams of 1000 bytes fit in 65536');
    // 160 ms by the monotonic clock for a >= 150 check: the addon counts whole milliseconds of
    // CLOCK_MONOTONIC, and Date.now() (wall clock, whole ms) could end a 150 ms wait after 149.x.
    const busyUntil = performance.now() + 160;
    while (performance.now() < busyUntil);
    // Drained in slices: 50, then the 15 left (the second word says how many stay queued).
    const first = n.drain(receiver, 0, 50)!;
    assert.deepEqual([first.readInt32LE(0), first.readInt32LE(4)], [50, 15]);
    assert.ok(batchQueueWaitMs(first) >= 150, `the first datagram waited ${batchQueueWaitMs(first)} ms in the queue`);
    const rest = n.drain(receiver, 0, 50)!;
    assert.deepEqual([rest.readInt32LE(0), rest.readInt32LE(4)], [15, 0]);
    assert.equal(n.drain(receiver, 0, 50), undefined);
    await until_(() => wakeups >= 1);
  } finally {
    n.detach(receiver, 0);
    n.stopReceiver(receiver);
    n.close(fd);
    n.close(out);
  }
  async function until_(cond: () => boolean): Promise<void> {
    await until(cond);
  }
});

test('worker threads sharing one socket each get the datagrams steered to them and send on it themselves', async (t) => {
  const n = requireNative(t);
  if (n === null) return;
  const shared = openSharedUdpSocket({ protocol: 'UDP', address: '127.0.0.1', port: 0 }, { workers: 2 });
  const moduleUrl = new URL('./native-udp-transport.js', import.meta.url).href;
  // Each worker attaches, answers every datagram with "w<k>:<text>" on the shared socket, and
  // reports what it got.
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    import(workerData.moduleUrl).then(({ NativeUdpTransport }) => {
      const got = [];
      let t;
      const host = {
        log: { error() {}, warn() {}, info() {} }, maxMessageSize: 65535,
        receive(buf, s) { got.push(buf.toString('latin1')); t.send(Buffer.from('w' + workerData.index + ':' + buf.toString('latin1')), s.address, s.port); },
        streamError() {}, sendFailed() {},
      };
      t = new NativeUdpTransport(host, workerData.shared, workerData.index);
      parentPort.on('message', async (m) => {
        if (m === 'report') { parentPort.postMessage(got); return; }
        await t.close();
        parentPort.close();
      });
      parentPort.postMessage('ready');
    });`;
  const workers = [0, 1].map((index) => new Worker(code, { eval: true, workerData: { moduleUrl, shared, index } }));
  const c = await client('udp4', '127.0.0.1');
  try {
    await Promise.all(workers.map((w) => once(w, 'message')));
    const messages = Array.from({ length: 100 }, (_, i) => `INVITE sip:b@x SIP/2.0\r\nCall-ID: call-${i}@host\r\nCSeq: 1 INVITE\r\n\r\n`);
    for (const m of messages) c.sock.send(m, shared.local.port, '127.0.0.1');
    await until(() => c.got.length === 100);
    const reports = await Promise.all(
      workers.map((w) => {
        w.postMessage('report');
        return once(w, 'message').then(([got]) => got as string[]);
      }),
    );
    for (const [k, got] of reports.entries()) {
      assert.ok(got.length > 10, `worker ${k} got ${got.length}`);
      for (const m of got) assert.equal(n.steer(Buffer.from(m, 'latin1'), 2), k);
    }
    assert.equal(reports[0]!.length + reports[1]!.length, 100);
    for (const g of c.got) {
      const k = Number(g.text[1]);
      assert.equal(n.steer(Buffer.from(g.text.slice(3), 'latin1'), 2), k, 'answered by the worker it was steered to');
      assert.equal(g.port, shared.local.port);
    }
  } finally {
    c.sock.close();
    for (const w of workers) w.postMessage('stop');
    await Promise.all(workers.map((w) => once(w, 'exit')));
    closeSharedUdpSocket(shared);
  }
});

test('the binding refuses bad arguments with a TypeError and unknown receivers without crashing', (t) => {
  const n = requireNative(t);
  if (n === null) return;
  const [fd] = n.open('127.0.0.1', 0, 4, 0, 0);
  const receiver = n.startReceiver(fd, 2, 65_536);
  try {
    assert.throws(() => n.attach(receiver, 2, () => {}), RangeError);
    assert.throws(() => n.attach(receiver + 1000, 0, () => {}), RangeError);
    assert.throws(() => n.drain('x' as unknown as number, 0, 1), TypeError);
    assert.throws(() => n.drain(receiver, 0, 0), TypeError);
    assert.throws(() => n.startReceiver(fd, 0, 65_536), TypeError);
    assert.throws(() => n.open('not-an-ip', 0, 4, 0, 0), { code: 'EINVAL' });
    for (const call of [() => n.close('x' as unknown as number), () => n.stats('x' as unknown as number), () => n.stopReceiver('x' as unknown as number)]) {
      assert.throws(call, TypeError);
    }
    assert.equal(n.socketBuffers(fd).length, 2);
    assert.equal(n.drain(receiver, 1, 64), undefined);
    assert.deepEqual(n.stats(receiver), [0, 0, 0]);
  } finally {
    n.stopReceiver(receiver);
    n.close(fd);
  }
  // A stopped receiver's id finds nothing (ids are not reused): detach and drain are no-ops.
  n.detach(receiver, 0);
  assert.equal(n.drain(receiver, 0, 64), undefined);
  assert.equal(n.stats(receiver), undefined);
});

test('a queue drained in slices while more arrives keeps every datagram once, in order', async (t) => {
  const n = requireNative(t);
  if (n === null) return;
  const [fd, port] = n.open('127.0.0.1', 0, 4, 4 * 1024 * 1024, 0);
  const [out] = n.open('127.0.0.1', 0, 4, 0, 4 * 1024 * 1024);
  const receiver = n.startReceiver(fd, 1, 1024 * 1024);
  n.attach(receiver, 0, () => {});
  const sent = (from: number, count: number): void => {
    const payloads = Array.from({ length: count }, (_, i) => Buffer.from(`datagram ${from + i}`));
    assert.equal(n.send(out, 4, payloads, Array(count).fill('127.0.0.1'), Array(count).fill(port), count, new Int32Array(count)), 0);
  };
  const queued = (): number => n.stats(receiver)![0];
  const seen: string[] = [];
  const drain = (max: number): number => {
    const batch = n.drain(receiver, 0, max);
    if (batch === undefined) return 0;
    return forEachDatagram(batch, (d) => seen.push(d.toString()));
  };
  try {
    sent(0, 200);
    await until(() => queued() === 200);
    assert.equal(drain(150), 50);
    // 300 datagrams since the queue was last empty: more than its first index holds, so the
    // 50 not yet drained move to the front before the new ones are added.
    sent(200, 100);
    await until(() => queued() === 300);
    while (drain(64) > 0);
    assert.equal(drain(64), 0);
    assert.deepEqual(seen, Array.from({ length: 300 }, (_, i) => `datagram ${i}`));
  } finally {
    n.detach(receiver, 0);
    n.stopReceiver(receiver);
    n.close(fd);
    n.close(out);
  }
});
