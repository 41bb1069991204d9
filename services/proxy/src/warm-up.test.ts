import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { parseConfig } from './config.js';
import { warmUp } from './warm-up.js';

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
