import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseMessage, silentLogger, type SipRequest } from '@voip/sip';
import { Secfilter } from './secfilter.js';

function request(ua: string | null): SipRequest {
  const text = [
    'OPTIONS sip:100@192.0.2.1 SIP/2.0',
    'Via: SIP/2.0/UDP 198.51.100.9:5060;branch=z9hG4bK-1',
    'Max-Forwards: 70',
    'From: "sipvicious"<sip:100@1.1.1.1>;tag=1',
    'To: "sipvicious"<sip:100@1.1.1.1>',
    'Call-ID: 1',
    'CSeq: 1 OPTIONS',
    ...(ua === null ? [] : [`User-Agent: ${ua}`]),
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
  const r = parseMessage(Buffer.from(text));
  if (!r.ok) throw new Error('bad fixture');
  return r.message as SipRequest;
}

const SOURCE = { protocol: 'UDP' as const, address: '198.51.100.9', port: 5060, local: { protocol: 'UDP' as const, address: '192.0.2.1', port: 5060 }, connectionId: null };

describe('secfilter', () => {
  const f = new Secfilter({ enabled: true, userAgents: ['friendly-scanner', 'sipvicious', 'VaxSIPUserAgent'] }, silentLogger);

  it('drops scanner user agents, case-insensitively, as substrings', () => {
    for (const ua of ['friendly-scanner', 'Friendly-Scanner/0.3', 'sipvicious 0.3.4', 'VaxSIPUserAgent/3.1']) assert.equal(f.admitRequest(request(ua), SOURCE), false, ua);
    assert.equal(f.dropped, 4);
  });

  it('lets phones and requests without User-Agent through', () => {
    for (const ua of ['baresip v1.0.0 (x86_64/linux)', 'Linphone/5.0', 'Yealink SIP-T46S']) assert.equal(f.admitRequest(request(ua), SOURCE), true, ua);
    assert.equal(f.admitRequest(request(null), SOURCE), true);
  });
});
