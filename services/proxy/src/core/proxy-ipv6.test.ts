/**
 * The proxy on IPv6 (RFC 3261 §19.1.1 references in brackets): OPTIONS to itself, a registered
 * contact reached by MESSAGE and INVITE, Via/Record-Route written with the bracketed address.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createResponse, silentLogger, type SipRequest } from '@voip/sip';
import { parseConfig } from '../config.js';
import { startProxy, type RunningProxy } from '../server.js';
import { request, UdpPeer } from '../test-support/udp-peer.js';

let proxy: RunningProxy;
let port: number;
const peers: UdpPeer[] = [];

before(async () => {
  proxy = await startProxy(parseConfig({ listen: ['udp:[::1]:0'], admin: { listen: '' }, logLevel: 'silent' }), silentLogger);
  port = proxy.transports[0]!.local.port;
});

after(async () => {
  for (const p of peers) p.close();
  await proxy.close();
});

async function peer(): Promise<UdpPeer> {
  const p = await UdpPeer.open('::1');
  peers.push(p);
  return p;
}

test('OPTIONS to [::1] is answered 200 over IPv6', async () => {
  const uac = await peer();
  uac.send(request({ method: 'OPTIONS', ruri: `sip:[::1]:${port}`, from: uac, headers: ['Max-Forwards: 70'] }), port);
  assert.equal((await uac.nextResponse()).status, 200);
});

test('REGISTER then INVITE over IPv6: forwarded with [::1] in Via and Record-Route, 200 back to the caller', async () => {
  const uac = await peer();
  const uas = await peer();
  uas.send(request({ method: 'REGISTER', ruri: `sip:[::1]:${port}`, toUri: `sip:bob@[::1]:${port}`, from: uas, fromUser: 'bob', headers: ['Max-Forwards: 70', 'Expires: 300'] }), port);
  assert.equal((await uas.nextResponse()).status, 200);
  uac.send(request({ method: 'INVITE', ruri: `sip:bob@[::1]:${port}`, from: uac, headers: ['Max-Forwards: 70'] }), port);
  const inv = (await uas.nextRequest('INVITE')) as SipRequest;
  assert.equal(inv.uri.toString(), `sip:bob@${uas.uri}`);
  assert.equal(inv.vias[0]!.host, '[::1]');
  assert.equal(inv.vias[0]!.port, port);
  assert.equal(inv.headers.get('record-route'), `<sip:[::1]:${port};lr>`);
  uas.sendMessage(createResponse(inv, 200, 'OK', { toTag: 'v6' }), port);
  const ok = await uac.nextResponse((r) => r.status === 200);
  assert.equal(ok.to.tag, 'v6');
  assert.equal(ok.vias.length, 1);
});
