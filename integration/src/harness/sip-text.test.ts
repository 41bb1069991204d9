/** The suite's own SIP reader and SIPp trace parser: what every assertion stands on. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SipText, param, splitCommaList, uriHostPort, uriOf, uriParam } from './sip-text.js';
import { parseSippMessages } from './sipp-trace.js';

const INVITE = [
  'INVITE sip:bob@127.0.0.1:5070 SIP/2.0',
  'Record-Route: <sip:127.0.0.1:5060;lr>',
  'Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKproxy',
  'v: SIP/2.0/UDP 127.0.0.1:6000;branch=z9hG4bKuac;rport=6000, SIP/2.0/TCP 10.0.0.1',
  'Contact: "Bob, Jr." <sip:bob@127.0.0.1:5070;transport=tcp>;q=0.5;expires=60,',
  ' <sip:bob@127.0.0.1:5071>',
  'CSeq: 7 INVITE',
  'i: abc@host',
  '',
  'v=0',
].join('\r\n');

describe('SipText', () => {
  it('reads start line, compact and folded headers, comma lists', () => {
    const m = new SipText(INVITE);
    assert.equal(m.method, 'INVITE');
    assert.equal(m.requestUri, 'sip:bob@127.0.0.1:5070');
    assert.equal(m.callId, 'abc@host');
    assert.equal(m.cseqNumber, 7);
    assert.equal(m.cseqMethod, 'INVITE');
    assert.deepEqual(m.values('via').length, 3);
    assert.equal(m.topBranch, 'z9hG4bKproxy');
    const contacts = m.values('m');
    assert.equal(contacts.length, 2);
    assert.equal(uriOf(contacts[0]!), 'sip:bob@127.0.0.1:5070;transport=tcp');
    assert.equal(param(contacts[0]!, 'q'), '0.5');
    assert.equal(param(contacts[0]!, 'expires'), '60');
    assert.equal(param(contacts[1]!, 'expires'), undefined);
    assert.equal(m.body, 'v=0');
  });

  it('reads responses', () => {
    const m = new SipText('SIP/2.0 486 Busy Here\r\nCSeq: 1 INVITE\r\n\r\n');
    assert.equal(m.status, 486);
    assert.equal(m.reason, 'Busy Here');
    assert.equal(m.isRequest, false);
    assert.equal(m.label, '486 (INVITE)');
  });

  it('splits comma lists outside quotes and angle brackets only', () => {
    assert.deepEqual(splitCommaList('"a,b" <sip:x>, <sip:y?h=1,2>;p=1'), ['"a,b" <sip:x>', '<sip:y?h=1,2>;p=1']);
  });

  it('reads URI parameters and host/port', () => {
    assert.equal(uriParam('sip:127.0.0.1:5060;lr', 'lr'), null);
    assert.equal(uriParam('sip:127.0.0.1:5060;transport=tcp', 'transport'), 'tcp');
    assert.equal(uriParam('sip:127.0.0.1:5060', 'lr'), undefined);
    assert.deepEqual(uriHostPort('sip:bob@[::1]:5070;lr'), { host: '[::1]', port: 5070 });
    assert.deepEqual(uriHostPort('sips:example.com'), { host: 'example.com', port: 5060 });
  });
});

describe('parseSippMessages', () => {
  it('splits a -trace_msg file into sent and received messages', () => {
    const trace = [
      '----------------------------------------------- 2026-11-24 23:22:43.088380',
      'UDP message sent (20 bytes):',
      '',
      'REGISTER sip:127.0.0.1:15060 SIP/2.0\r',
      'CSeq: 1 REGISTER\r',
      '\r',
      '',
      '----------------------------------------------- 2026-11-24 23:22:43.089640',
      'TCP message received [30] bytes :',
      '',
      'SIP/2.0 200 OK\r',
      'CSeq: 1 REGISTER\r',
      '\r',
      '',
      '-----------------------------------------------',
      'Unexpected UDP message received:',
      '',
    ].join('\n');
    const msgs = parseSippMessages(trace);
    assert.equal(msgs.length, 2);
    assert.equal(msgs[0]!.direction, 'sent');
    assert.equal(msgs[0]!.transport, 'UDP');
    assert.equal(msgs[0]!.message.method, 'REGISTER');
    assert.equal(msgs[1]!.direction, 'received');
    assert.equal(msgs[1]!.transport, 'TCP');
    assert.equal(msgs[1]!.message.status, 200);
    assert.ok(msgs[1]!.time > msgs[0]!.time);
  });
});
