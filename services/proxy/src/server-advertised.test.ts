/**
 * advertisedAddress (the book's `advertised_address`): a proxy on 0.0.0.0 in a container on
 * two networks must name the address its phones reach in Via and Record-Route, not whatever
 * interface the wildcard socket picks.
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { after, before, it } from 'node:test';
import { pino } from 'pino';
import { isRequest, parseMessage, type SipRequest } from '@voip/sip';
import { parseConfig } from './config.js';
import { startProxy, type RunningProxy } from './server.js';

let proxy: RunningProxy;

before(async () => {
  const config = parseConfig({ listen: ['udp:0.0.0.0:0'], advertisedAddress: '192.0.2.10', domains: ['example.com'], route: 'standard' });
  proxy = await startProxy(config, pino({ level: 'silent' }));
});
after(async () => proxy.close());

it('Via of a relayed request names advertisedAddress, with the port actually bound', async () => {
  const t = proxy.transports[0]!;
  assert.deepEqual(t.advertised, { host: '192.0.2.10', port: t.local.port });
  // bob registers from 127.0.0.1; alice's INVITE for him arrives with our Via on top.
  const bob = createSocket('udp4');
  bob.bind(0, '127.0.0.1');
  await once(bob, 'listening');
  const bobPort = bob.address().port;
  const got: SipRequest[] = [];
  bob.on('message', (b) => {
    const r = parseMessage(b);
    if (r.ok && isRequest(r.message)) got.push(r.message);
  });
  const send = (text: string): void => {
    bob.send(Buffer.from(text, 'latin1'), t.local.port, '127.0.0.1');
  };
  const msg = (lines: string[]): string => [...lines, 'Content-Length: 0', '', ''].join('\r\n');
  send(msg([
    'REGISTER sip:example.com SIP/2.0', `Via: SIP/2.0/UDP 127.0.0.1:${bobPort};branch=z9hG4bK-adv-r;rport`, 'Max-Forwards: 70',
    'From: <sip:bob@example.com>;tag=r1', 'To: <sip:bob@example.com>', 'Call-ID: adv-reg', 'CSeq: 1 REGISTER',
    `Contact: <sip:bob@127.0.0.1:${bobPort}>`, 'Expires: 600',
  ]));
  await new Promise((r) => setTimeout(r, 200));
  send(msg([
    'INVITE sip:bob@example.com SIP/2.0', `Via: SIP/2.0/UDP 127.0.0.1:${bobPort};branch=z9hG4bK-adv-i;rport`, 'Max-Forwards: 70',
    'From: <sip:alice@example.com>;tag=a1', 'To: <sip:bob@example.com>', 'Call-ID: adv-inv', 'CSeq: 1 INVITE',
    `Contact: <sip:alice@127.0.0.1:${bobPort}>`,
  ]));
  const deadline = Date.now() + 5_000;
  while (!got.some((m) => m.method === 'INVITE') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  bob.close();
  const invite = got.find((m) => m.method === 'INVITE');
  assert.ok(invite, 'the INVITE reached bob');
  assert.match(invite.headers.get('via') ?? '', new RegExp(`^SIP/2\\.0/UDP 192\\.0\\.2\\.10:${t.local.port};branch=z9hG4bK`));
});
