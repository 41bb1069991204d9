import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { parseConfig } from './config.js';
import { parseMessage, silentLogger, SipResponse, type TransportHost } from '@voip/sip';
import { startProxy } from './server.js';
import { LoopbackFakeUdp, syntheticCall, warmUp } from './warm-up.js';

test('warm-up completes every synthetic call through its throw-away stack; 0 calls: nothing runs', async () => {
  assert.equal(await warmUp(parseConfig({}), 300), 300);
  assert.equal(await warmUp(parseConfig({}), 0), 0);
});

test('warm-up sends nothing on the network, even with a configured listen address and admin API', async () => {
  // A socket on the address the config names: the warm-up must neither bind it nor send to it.
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', () => resolve()));
  const port = sock.address().port;
  let received = 0;
  sock.on('message', () => received++);
  try {
    const config = parseConfig({ listen: [`udp:127.0.0.1:${port}`], admin: { listen: '127.0.0.1:0' } });
    assert.equal(await warmUp(config, 100), 100);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(received, 0);
  } finally {
    sock.close();
  }
});

test('every message of a synthetic call is well-formed: the warm-up runs the relay path, not the drop path', async () => {
  let fake: LoopbackFakeUdp | null = null;
  const proxy = await startProxy(parseConfig({ listen: ['udp:127.0.0.1:5060'], admin: { listen: '' } }), silentLogger, {
    transports: (host) => [(fake = new LoopbackFakeUdp(host))],
    accounting: null,
  });
  try {
    const t = fake!;
    const received: string[] = [];
    const receive = t.host.receive.bind(t.host);
    (t.host as { receive: TransportHost['receive'] }).receive = (buf, source) => {
      const r = parseMessage(buf);
      if (!r.ok) received.push(`${r.error.reason}: ${buf.toString('latin1').split('\r\n')[0]}`);
      else received.push(r.message instanceof SipResponse ? String(r.message.status) : r.message.method);
      receive(buf, source);
    };
    assert.equal(syntheticCall(t, 1), true);
    assert.deepEqual(received, ['INVITE', '100', '180', '200', 'ACK', 'BYE', '200']);
  } finally {
    await proxy.close();
  }
});
