import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseMessage, SipRequest, SipResponse, type MessageSource } from '@voip/sip';
import { RequestContext, ReplyContext, type ProxyActions } from '../../core/route-context.js';
import { FLAG_NAT, FLAG_NAT_RECEIVED, natDetect, natModules } from '../../routing/nat-sub-routes.js';
import { isPrivateAddress } from './address-class.js';
import { DEFAULT_NAT_TESTS, NatHelper, natTestMask } from './nathelper.js';

const actions: ProxyActions = {
  reply: () => undefined,
  relay: () => undefined,
  forwardStateless: () => undefined,
  isMyself: () => false,
  tracingHints: false,
};

function src(address: string, port: number): MessageSource {
  return { protocol: 'UDP', address, port, local: { protocol: 'UDP', address: '198.51.100.1', port: 5060 }, connectionId: null };
}

function request(o: { via: string; contact?: string; sdpC?: string; method?: string }): SipRequest {
  const body = o.sdpC ? `v=0\r\no=- 1 1 IN IP4 ${o.sdpC}\r\ns=-\r\nc=IN IP4 ${o.sdpC}\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n` : '';
  const text = [
    `${o.method ?? 'INVITE'} sip:bob@example.com SIP/2.0`,
    `Via: SIP/2.0/UDP ${o.via};branch=z9hG4bK-1`,
    'From: <sip:alice@example.com>;tag=a',
    'To: <sip:bob@example.com>',
    'Call-ID: nat-1',
    `CSeq: 1 ${o.method ?? 'INVITE'}`,
    ...(o.contact ? [`Contact: <${o.contact}>;expires=60`] : []),
    ...(body ? ['Content-Type: application/sdp'] : []),
    `Content-Length: ${body.length}`,
    '',
    body,
  ].join('\r\n');
  const r = parseMessage(Buffer.from(text));
  if (!r.ok || !(r.message instanceof SipRequest)) throw new Error('bad fixture');
  return r.message;
}

function ctx(req: SipRequest, s: MessageSource): RequestContext {
  return new RequestContext(actions, req, s, null, req.uri.toString());
}

describe('isPrivateAddress', () => {
  test('RFC 1918, RFC 6598, link-local, ULA are private; public, loopback and names are not', () => {
    for (const a of ['10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '100.64.0.1', '100.127.255.254', '169.254.9.9', 'fd00::1', 'fc12::5', 'fe80::1', '[fd00::1]', '::ffff:192.168.0.1']) {
      assert.equal(isPrivateAddress(a), true, a);
    }
    for (const a of ['172.32.0.1', '100.128.0.1', '198.51.100.2', '8.8.8.8', '127.0.0.1', '2001:db8::1', '::1', 'pbx.example.com', '']) {
      assert.equal(isPrivateAddress(a), false, a);
    }
  });
});

describe('nat_uac_test', () => {
  const def = new NatHelper(natTestMask(DEFAULT_NAT_TESTS));
  test('a private Contact (1), a sent-by other than the source (2), a port other than the source port (16)', () => {
    assert.equal(def.natUacTest(ctx(request({ via: '198.51.100.2:5060', contact: 'sip:a@10.0.0.5:5060' }), src('198.51.100.2', 5060))), true);
    assert.equal(def.natUacTest(ctx(request({ via: '10.0.0.5:5060' }), src('198.51.100.2', 5060))), true);
    assert.equal(def.natUacTest(ctx(request({ via: '198.51.100.2:5060' }), src('198.51.100.2', 40_123))), true);
    assert.equal(def.natUacTest(ctx(request({ via: '198.51.100.2' }), src('198.51.100.2', 5060))), false, 'default port 5060');
    assert.equal(def.natUacTest(ctx(request({ via: '198.51.100.2:5060', contact: 'sip:a@198.51.100.2:5060' }), src('198.51.100.2', 5060))), false);
  });

  test('each test can be chosen alone', () => {
    const sdpOnly = new NatHelper(natTestMask(['sdp-private']));
    assert.equal(sdpOnly.natUacTest(ctx(request({ via: '198.51.100.2:5060', sdpC: '192.168.1.20' }), src('198.51.100.2', 5060))), true);
    assert.equal(sdpOnly.natUacTest(ctx(request({ via: '10.0.0.5:5060', contact: 'sip:a@10.0.0.5' }), src('198.51.100.2', 1))), false);
    const viaPrivate = new NatHelper(natTestMask(['via-private']));
    assert.equal(viaPrivate.natUacTest(ctx(request({ via: '100.64.3.4:5060' }), src('100.64.3.4', 5060))), true);
    const contactOnly = new NatHelper(natTestMask(['contact-private']));
    assert.equal(contactOnly.natUacTest(ctx(request({ via: '10.0.0.5:5060' }), src('198.51.100.2', 1))), false);
  });

  test('a malformed Contact is no NAT and no exception', () => {
    const r = request({ via: '198.51.100.2:5060' });
    r.headers.set('Contact', '<sip:broken@@>;;;');
    assert.equal(def.natUacTest(ctx(r, src('198.51.100.2', 5060))), false);
  });
});

describe('route[NATDETECT]', () => {
  const m = natModules(new NatHelper(natTestMask(DEFAULT_NAT_TESTS)), null);

  test('INVITE from a NATed phone: rport forced, Contact fixed to the source, flag set', () => {
    const c = ctx(request({ via: '10.0.0.5:5060', contact: 'sip:alice@10.0.0.5:5060;transport=udp' }), src('198.51.100.2', 40_123));
    natDetect(c, m);
    assert.ok(c.flags.has(FLAG_NAT));
    const via = c.request.vias[0]!;
    assert.equal(via.params.get('rport'), '40123');
    assert.equal(via.params.get('received'), '198.51.100.2');
    assert.equal(c.request.headers.get('contact'), '<sip:alice@198.51.100.2:40123;transport=udp>;expires=60');
  });

  test('REGISTER keeps its Contact as sent and asks the registrar to store the source', () => {
    const c = ctx(request({ method: 'REGISTER', via: '10.0.0.5:5060', contact: 'sip:alice@10.0.0.5:5060' }), src('198.51.100.2', 40_123));
    natDetect(c, m);
    assert.ok(c.flags.has(FLAG_NAT_RECEIVED));
    assert.equal(c.request.headers.get('contact'), '<sip:alice@10.0.0.5:5060>;expires=60');
  });

  test('a request that already passed another proxy keeps its Contact (is_first_hop)', () => {
    const r = request({ via: '10.0.0.5:5060', contact: 'sip:alice@10.0.0.5:5060' });
    r.headers.append('Via', 'SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK-2');
    const c = ctx(r, src('198.51.100.2', 40_123));
    natDetect(c, m);
    assert.ok(c.flags.has(FLAG_NAT));
    assert.equal(c.request.headers.get('contact'), '<sip:alice@10.0.0.5:5060>;expires=60');
  });

  test('a reply from a NATed callee gets its Contact fixed to where it came from', () => {
    const req = request({ via: '198.51.100.3:5060' });
    const res = new SipResponse(200, 'OK');
    res.headers.set('Contact', '<sip:bob@192.168.1.7:5062>');
    const rc = new ReplyContext(req, res, src('198.51.100.2', 1024));
    assert.equal(m.nat.replyIsNated(rc), true);
    m.nat.fixNatedReplyContact(rc);
    assert.equal(res.headers.get('contact'), '<sip:bob@198.51.100.2:1024>');
    const pub = new SipResponse(200, 'OK');
    pub.headers.set('Contact', '<sip:bob@198.51.100.3>');
    assert.equal(m.nat.replyIsNated(new ReplyContext(req, pub, null)), false);
  });
});
