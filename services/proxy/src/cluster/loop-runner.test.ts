import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { pino } from 'pino';
import { parseConfig } from '../config.js';
import { UdpPeer } from '../test-support/udp-peer.js';
import { runLoopThread } from './loop-runner.js';

const logger = pino({ level: 'silent' });

test('workers: 1 in its own thread: listens, answers OPTIONS from its sockets, serves the admin API, stops on close', async () => {
  const config = parseConfig({ listen: ['udp:127.0.0.1:0'], admin: { listen: '127.0.0.1:0' }, domains: ['example.com'], warmUpCalls: 10, logLevel: 'silent' });
  assert.equal(config.loopThread, true, 'the default');
  const loop = await runLoopThread(config, logger);
  const peer = await UdpPeer.open();
  try {
    assert.equal(loop.listening.length, 1);
    const port = Number(/:(\d+)$/.exec(loop.listening[0]!)![1]);
    peer.send(
      `OPTIONS sip:example.com SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK-loop-1;rport
Max-Forwards: 70
From: <sip:t@example.com>;tag=1
To: <sip:example.com>
Call-ID: loop-thread-1
CSeq: 1 OPTIONS
Content-Length: 0

`,
      port,
    );
    const r = await peer.nextResponse();
    assert.equal(r.status, 200, 'the proxy in the thread answers OPTIONS for its own domain');
    assert.ok(loop.adminUrl !== null);
    assert.equal((await fetch(`${loop.adminUrl}/health`)).status, 200);
  } finally {
    peer.close();
    await loop.close();
  }
  // Closed: the sockets are released (the port can be bound again).
  const again = createSocket('udp4');
  again.bind(Number(/:(\d+)$/.exec(loop.listening[0]!)![1]), '127.0.0.1');
  await once(again, 'listening');
  again.close();
});

test('a proxy that cannot start (address in use) rejects the start; nothing keeps running', async () => {
  const holder = createSocket('udp4');
  holder.bind(0, '127.0.0.1');
  await once(holder, 'listening');
  try {
    const config = parseConfig({ listen: [`udp:127.0.0.1:${holder.address().port}`], admin: { listen: '' }, warmUpCalls: 0, logLevel: 'silent' });
    await assert.rejects(runLoopThread(config, logger), /EADDRINUSE|in use/i);
  } finally {
    holder.close();
  }
});
