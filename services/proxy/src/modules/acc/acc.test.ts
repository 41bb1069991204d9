/**
 * acc end to end in-process: calls through a proxy with a journal, records read back with the
 * reader radius-acct uses.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { createResponse, silentLogger, type SipRequest } from '@voip/sip';
import { JournalReader, type StoredAccRecord } from '@voip/acc';
import { parseConfig } from '../../config.js';
import { startProxy, type RunningProxy } from '../../server.js';
import { request, UdpPeer } from '../../test-support/udp-peer.js';

let proxy: RunningProxy;
let port: number;
let dir: string;
const peers: UdpPeer[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'acc-test-'));
  const config = parseConfig({
    listen: ['udp:127.0.0.1:0'], admin: { listen: '' }, logLevel: 'silent',
    accounting: { journal: join(dir, 'acc.journal'), fsync: false },
  });
  proxy = await startProxy(config, silentLogger);
  port = proxy.transports[0]!.local.port;
});

after(async () => {
  for (const p of peers) p.close();
  await proxy.close();
  rmSync(dir, { recursive: true, force: true });
});

function bind(aor: string, contact: string): void {
  const now = Date.now();
  proxy.location.upsert({
    ruid: `${aor}`, aor, contact, received: null, path: null, expires: now + 60_000, q: -1, callId: 'x', cseq: 1,
    lastModified: now, flags: 0, cflags: 0, userAgent: '', socket: null, methods: null, instance: null, regId: 0,
  });
}

async function records(): Promise<StoredAccRecord[]> {
  await proxy.accounting!.flush();
  const reader = await JournalReader.open({ path: join(dir, 'acc.journal') });
  try {
    const items = await reader.read(100);
    return items.map((i) => {
      assert.ok(i.ok, `unreadable journal entry: ${i.ok ? '' : i.reason}`);
      return i.record;
    });
  } finally {
    await reader.close();
  }
}

test('an answered call gives an INVITE acc record and its BYE another; a busy call a missed_call', async () => {
  const uac = await UdpPeer.open();
  const uas = await UdpPeer.open();
  peers.push(uac, uas);
  bind('bob@127.0.0.1', `sip:bob@${uas.uri}`);

  uac.send(request({ method: 'INVITE', ruri: `sip:bob@127.0.0.1:${port}`, from: uac, fromUser: 'alice', callId: 'acc-call-1', headers: ['Max-Forwards: 70', 'User-Agent: test-phone/1.0'] }), port);
  const inv = (await uas.nextRequest('INVITE')) as SipRequest;
  uas.sendMessage(createResponse(inv, 200, 'OK', { toTag: 'bobtag' }), port);
  await uac.nextResponse((r) => r.status === 200);
  // The BYE follows the route set: loose-routed through us to the callee.
  uac.send(request({
    method: 'BYE', ruri: `sip:bob@${uas.uri}`, from: uac, fromUser: 'alice', callId: 'acc-call-1', cseq: 2,
    headers: ['Max-Forwards: 70', `Route: <sip:127.0.0.1:${port};lr>`],
  }).replace(/^To: <([^>]*)>$/m, 'To: <$1>;tag=bobtag'), port);
  const bye = (await uas.nextRequest('BYE')) as SipRequest;
  uas.sendMessage(createResponse(bye, 200, 'OK'), port);
  await uac.nextResponse((r) => r.cseq.method === 'BYE');

  uac.send(request({ method: 'INVITE', ruri: `sip:bob@127.0.0.1:${port}`, from: uac, fromUser: 'alice', callId: 'acc-call-2', headers: ['Max-Forwards: 70'] }), port);
  const inv2 = (await uas.nextRequest('INVITE')) as SipRequest;
  uas.sendMessage(createResponse(inv2, 486, 'Busy Here', { toTag: 'busytag' }), port);
  await uac.nextResponse((r) => r.status === 486);

  const recs = await records();
  assert.equal(recs.length, 3);
  const [start, stop, missed] = recs;
  assert.deepEqual(
    { kind: start!.kind, method: start!.method, callid: start!.callid, code: start!.sip_code, to: start!.to_tag, src: start!.src_user, dst: start!.dst_user, ouser: start!.dst_ouser, ua: start!.user_agent, ip: start!.src_ip },
    { kind: 'acc', method: 'INVITE', callid: 'acc-call-1', code: 200, to: 'bobtag', src: 'alice', dst: 'bob', ouser: 'bob', ua: 'test-phone/1.0', ip: '127.0.0.1' },
  );
  assert.equal(stop!.method, 'BYE');
  assert.equal(stop!.kind, 'acc');
  assert.equal(stop!.callid, 'acc-call-1');
  assert.equal(stop!.to_tag, 'bobtag');
  assert.equal(missed!.kind, 'missed_call');
  assert.equal(missed!.sip_code, 486);
  assert.equal(missed!.sip_reason, 'Busy Here');
  assert.ok(start!.time <= stop!.time);
});

test('a 404 for an unknown user is not accounted (the route arms acc only when relaying)', async () => {
  const before = (await records()).length;
  const uac = await UdpPeer.open();
  peers.push(uac);
  uac.send(request({ method: 'INVITE', ruri: `sip:nobody@127.0.0.1:${port}`, from: uac, headers: ['Max-Forwards: 70'] }), port);
  assert.equal((await uac.nextResponse((r) => r.status >= 200)).status, 404);
  assert.equal((await records()).length, before);
});
