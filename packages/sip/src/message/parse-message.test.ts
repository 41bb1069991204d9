import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseMessage, type ParseResult } from './parse-message.js';
import { SipRequest, SipResponse } from './sip-message.js';
import { SipMessageError } from './errors.js';
import { HeaderList } from './header-list.js';
import { SipUri } from './uri.js';

const CRLF = '\r\n';

function msg(lines: string[], body = ''): Buffer {
  return Buffer.from(lines.join(CRLF) + CRLF + CRLF + body, 'latin1');
}

const BASE = [
  'INVITE sip:bob@biloxi.example.com SIP/2.0',
  'Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds',
  'Max-Forwards: 70',
  'To: Bob <sip:bob@biloxi.example.com>',
  'From: Alice <sip:alice@atlanta.example.com>;tag=1928301774',
  'Call-ID: a84b4c76e66710@pc33.atlanta.example.com',
  'CSeq: 314159 INVITE',
  'Contact: <sip:alice@pc33.atlanta.example.com>',
  'Content-Type: application/sdp',
  'Content-Length: 4',
];

function ok(r: ParseResult): SipRequest | SipResponse {
  assert.ok(r.ok, r.ok ? '' : r.error.reason);
  return r.message;
}

function req(r: ParseResult): SipRequest {
  const m = ok(r);
  assert.ok(m instanceof SipRequest);
  return m;
}

function err(r: ParseResult, status: number, reason: RegExp | string): void {
  assert.ok(!r.ok, 'accepted');
  assert.equal(r.error.status, status);
  if (typeof reason === 'string') assert.equal(r.error.reason, reason);
  else assert.match(r.error.reason, reason);
}

const without = (name: string): string[] => BASE.filter((l) => !l.startsWith(name + ':'));
const replace = (name: string, line: string): string[] => BASE.map((l) => (l.startsWith(name + ':') ? line : l));

describe('parseMessage: start lines', () => {
  it('request line', () => {
    const m = req(parseMessage(msg(BASE, 'v=0\n')));
    assert.equal(m.method, 'INVITE');
    assert.equal(m.uri.toString(), 'sip:bob@biloxi.example.com');
    assert.equal(m.version, 'SIP/2.0');
    assert.equal(m.body.toString(), 'v=0\n');
  });

  it('status line, with and without reason', () => {
    const lines = ['SIP/2.0 180 Ringing', ...BASE.slice(1, 7), 'Content-Length: 0'];
    const r = ok(parseMessage(msg(lines)));
    assert.ok(r instanceof SipResponse);
    assert.equal(r.status, 180);
    assert.equal(r.reason, 'Ringing');
    lines[0] = 'SIP/2.0 486 Busy Here, really: go away';
    assert.equal((ok(parseMessage(msg(lines))) as SipResponse).reason, 'Busy Here, really: go away');
    lines[0] = 'SIP/2.0 100';
    assert.equal((ok(parseMessage(msg(lines))) as SipResponse).reason, '');
    for (const bad of ['SIP/2.0 99 Low', 'SIP/2.0 700 High', 'SIP/2.0 2000 X', 'SIP/2.0 20 X', 'SIP/2.0 abc X', 'SIP/2.0', 'SIP/2.0 200OK', 'SIP/2 200 OK']) {
      lines[0] = bad;
      err(parseMessage(msg(lines)), 400, 'Bad Request - Malformed Status-Line');
    }
    lines[0] = 'SIP/3.0 200 OK';
    err(parseMessage(msg(lines)), 505, 'Version Not Supported');
  });

  it('malformed request lines are 400, unknown versions 505', () => {
    const cases: [string, number, string][] = [
      ['INVITE sip:bob@b SIP/3.0', 505, 'Version Not Supported'],
      ['INVITE sip:bob@b SIP/2.0 ', 400, 'Bad Request - Malformed Request-Line'],
      ['INVITE  sip:bob@b SIP/2.0', 400, 'Bad Request - Malformed Request-Line'],
      ['INVITE sip:bob@b;  lr SIP/2.0', 400, 'Bad Request - Malformed Request-Line'],
      ['INVITE sip:bob@b', 400, 'Bad Request - Malformed Request-Line'],
      ['INVITE sip:bob@b HTTP/1.1', 400, 'Bad Request - Malformed Request-Line'],
      ['INV<ITE sip:bob@b SIP/2.0', 400, 'Bad Request - Malformed Request-Line'],
      ['INVITE <sip:bob@b> SIP/2.0', 400, 'Bad Request - Malformed Request-URI'],
      ['INVITE sip:bob@b?Route=x SIP/2.0', 400, 'Bad Request - Malformed Request-URI'],
    ];
    for (const [line, status, reason] of cases) {
      const r = parseMessage(msg([line, ...BASE.slice(1)], 'v=0\n'));
      err(r, status, reason);
      // the Via parses, so the server gets a request to answer, unless not even the
      // method could be read
      assert.equal(!r.ok && r.message instanceof SipRequest, !line.startsWith('INV<'), line);
    }
  });

  it('leading CRLFs are ignored (RFC 3261 §7.5); version is case-insensitive', () => {
    const m = req(parseMessage(Buffer.concat([Buffer.from('\r\n\r\n'), msg(BASE, 'v=0\n')])));
    assert.equal(m.method, 'INVITE');
    assert.ok(req(parseMessage(msg(['INVITE sip:bob@b sip/2.0', ...BASE.slice(1)], 'v=0\n'))));
  });

  it('never throws on junk', () => {
    for (const junk of ['', '\r\n', '\r\n\r\n', 'x', '\x00\x01\x02', 'SIP/', ':\r\n\r\n', 'INVITE sip:a@b SIP/2.0\r\n\r\n', '\n\n\n']) {
      const r = parseMessage(Buffer.from(junk, 'latin1'));
      assert.ok(!r.ok);
      assert.equal(r.message, null);
    }
  });
});

describe('parseMessage: header lines', () => {
  it('compact forms, case, spacing before the colon', () => {
    const lines = [
      'OPTIONS sip:a@b SIP/2.0', 'v: SIP/2.0/UDP h;branch=z9hG4bK1', 't: <sip:a@b>', 'f  : <sip:c@d>;tag=1',
      'i: x@y', 'CSEQ: 1 OPTIONS', 'm: <sip:c@e>', 'l: 0', 'max-FORWARDS:7',
    ];
    const m = req(parseMessage(msg(lines)));
    assert.equal(m.callId, 'x@y');
    assert.equal(m.from.tag, '1');
    assert.equal(m.maxForwards, 7);
    assert.equal(m.contentLength, 0);
    assert.equal(m.headers.get('Contact'), '<sip:c@e>');
    assert.ok(m.toBuffer().equals(msg(lines)));
  });

  it('folded lines are joined with one SP, and kept byte-exact', () => {
    const lines = [...BASE];
    lines[4] = 'From: Alice\r\n <sip:alice@atlanta.example.com>\r\n\t;tag=1928301774';
    lines[6] = 'CSeq: 314159\r\n    INVITE';
    lines.push('Subject: first\r\n  second \r\n third');
    const buf = msg(lines, 'v=0\n');
    const m = req(parseMessage(buf));
    assert.equal(m.headers.get('from'), 'Alice <sip:alice@atlanta.example.com> ;tag=1928301774');
    assert.equal(m.from.tag, '1928301774');
    assert.equal(m.cseq.seq, 314159);
    assert.equal(m.headers.get('subject'), 'first second third');
    assert.ok(m.toBuffer().equals(buf));
  });

  it('random whitespace and folding variants parse to the same values and round-trip', () => {
    let seed = 20260;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const lws = (): string => [' ', '  ', '\t', '\r\n ', '\r\n\t', ' \r\n  '][rnd(6)];
    for (let k = 0; k < 200; k++) {
      const lines = [
        'INVITE sip:bob@biloxi.example.com SIP/2.0',
        `Via${rnd(2) ? ' ' : ''}:${lws()}SIP${lws()}/${lws()}2.0${lws()}/${lws()}UDP${lws()}pc33.atlanta.example.com${lws()};${lws()}branch${lws()}=${lws()}z9hG4bK776asdhds`,
        `To:${lws()}Bob${lws()}<sip:bob@biloxi.example.com>`,
        `From:${lws()}"Alice"${lws()}<sip:alice@atlanta.example.com>${lws()};${lws()}tag${lws()}=${lws()}1928301774`,
        `Call-ID:${lws()}a84b4c76e66710@pc33.atlanta.example.com`,
        `CSeq:${lws()}314159${lws()}INVITE`,
        `Max-Forwards:${lws()}70`,
        `Contact:${lws()}<sip:a@h>${lws()},${lws()}<sip:b@h>${lws()};${lws()}expires${lws()}=${lws()}60`,
        'Content-Length: 0',
      ];
      const buf = msg(lines);
      const m = req(parseMessage(buf));
      assert.equal(m.topVia.host, 'pc33.atlanta.example.com');
      assert.equal(m.topVia.branch, 'z9hG4bK776asdhds');
      assert.equal(m.to.displayName, 'Bob');
      assert.equal(m.from.displayName, 'Alice');
      assert.equal(m.from.tag, '1928301774');
      assert.equal(m.callId, 'a84b4c76e66710@pc33.atlanta.example.com');
      assert.equal(m.cseq.toString(), '314159 INVITE');
      assert.equal(m.maxForwards, 70);
      const c = m.contacts;
      assert.ok(!c.star && c.contacts.length === 2 && c.contacts[1].params.get('expires') === '60');
      assert.ok(m.toBuffer().equals(buf), JSON.stringify(lines));
    }
  });

  it('bare LF line endings are accepted and reproduced', () => {
    const buf = Buffer.from(BASE.join('\n') + '\n\nv=0\n', 'latin1');
    const m = req(parseMessage(buf));
    assert.equal(m.body.toString(), 'v=0\n');
    assert.ok(m.toBuffer().equals(buf));
  });

  it('a header line without a colon or name is 400 (request still answerable)', () => {
    for (const bad of ['NoColonHere', ': novalue', ' leading-space: x', 'Bad Name: x']) {
      const lines = [...BASE.slice(0, 2), bad, ...BASE.slice(2)];
      const r = parseMessage(msg(lines, 'v=0\n'));
      if (bad.startsWith(' ')) {
        // a leading SP folds the line into the Via above: the Via is then malformed
        err(r, 400, 'Bad Request - Malformed Via');
        continue;
      }
      err(r, 400, 'Bad Request - Malformed Header Line');
      assert.ok(!r.ok && r.message !== null);
    }
  });

  it('no empty line: incomplete header section, answerable', () => {
    const r = parseMessage(Buffer.from(BASE.join(CRLF) + CRLF, 'latin1'));
    err(r, 400, 'Bad Request - Incomplete Header Section');
    assert.ok(!r.ok && r.message?.callId === 'a84b4c76e66710@pc33.atlanta.example.com');
  });
});

describe('parseMessage: validation of what a proxy interprets', () => {
  it('mandatory headers', () => {
    for (const name of ['To', 'From', 'Call-ID', 'CSeq', 'Via']) {
      const r = parseMessage(msg(without(name), 'v=0\n'));
      err(r, 400, `Bad Request - Missing ${name}`);
      assert.equal(!r.ok && r.message !== null, name !== 'Via');
    }
    // Max-Forwards may be absent: the proxy adds 70 (RFC 3261 §16.6 step 3)
    assert.equal(req(parseMessage(msg(without('Max-Forwards'), 'v=0\n'))).maxForwards, null);
  });

  it('single-valued headers may not repeat', () => {
    for (const line of ['To: <sip:x@y>', 'From: <sip:x@y>;tag=2', 'Call-ID: other', 'CSeq: 1 INVITE', 'Max-Forwards: 5', 'Content-Length: 4', 'Expires: 5']) {
      const name = line.slice(0, line.indexOf(':'));
      const lines = [...BASE, line];
      if (name === 'Expires') lines.push(line);
      err(parseMessage(msg(lines, 'v=0\n')), 400, `Bad Request - Multiple ${name} Values`);
    }
  });

  it('malformed values name the header', () => {
    const cases: [string, string][] = [
      ['Via: SIP/2.0/UDP', 'Via'],
      ['Via: SIP/2.0/UDP h;branch=z9hG4bK', 'Via branch'],
      ['From: Bell, Alexander <sip:a@b>;tag=1', 'From'],
      ['To: "unterminated <sip:a@b>', 'To'],
      ['Call-ID: has space', 'Call-ID'],
      ['Call-ID: a@b@c', 'Call-ID'],
      ['CSeq: 2147483648 INVITE', 'CSeq'],
      ['Max-Forwards: 256', 'Max-Forwards'],
      ['Max-Forwards: -1', 'Max-Forwards'],
      ['Content-Length: -4', 'Content-Length'],
      ['Content-Length: 4x', 'Content-Length'],
      ['Contact: sip:a@b?x=y', 'Contact'],
      ['Contact: *, <sip:a@b>', 'Contact'],
    ];
    for (const [line, label] of cases) {
      const name = line.slice(0, line.indexOf(':'));
      err(parseMessage(msg(replace(name, line), 'v=0\n')), 400, `Bad Request - Malformed ${label}`);
    }
    for (const [line, label] of [['Route: sip:p1;lr', 'Route'], ['Record-Route: <sip:p1;lr', 'Record-Route'], ['Expires: soon', 'Expires']]) {
      err(parseMessage(msg([...BASE, line], 'v=0\n')), 400, `Bad Request - Malformed ${label}`);
    }
  });

  it('CSeq method must match the request method', () => {
    err(parseMessage(msg(replace('CSeq', 'CSeq: 1 BYE'), 'v=0\n')), 400, 'Bad Request - CSeq Method Does Not Match Request Method');
  });

  it('Expires beyond 2**32-1 counts as 3600; Contact "*" parses', () => {
    const m = req(parseMessage(msg([...replace('Contact', 'Contact: *'), 'Expires: 99999999999'], 'v=0\n')));
    assert.equal(m.expires, 3600);
    assert.deepEqual(m.contacts, { star: true });
  });
});

describe('parseMessage: body and size (datagram rules, RFC 3261 §18.3)', () => {
  it('exactly Content-Length octets; extra octets ignored', () => {
    const m = req(parseMessage(msg(BASE, 'v=0\nEXTRA')));
    assert.equal(m.body.toString(), 'v=0\n');
    assert.ok(m.toBuffer().equals(msg(BASE, 'v=0\n')));
  });

  it('fewer octets than Content-Length is 400', () => {
    const r = parseMessage(msg(BASE, 'v='));
    err(r, 400, 'Bad Request - Body Shorter Than Content-Length');
    assert.ok(!r.ok && r.message !== null);
  });

  it('no Content-Length: the rest of the datagram', () => {
    const m = req(parseMessage(msg(without('Content-Length'), 'v=0\r\nbody')));
    assert.equal(m.body.toString(), 'v=0\r\nbody');
    assert.equal(m.contentLength, null);
  });

  it('over maxSize is 513 with an answerable request', () => {
    const buf = msg(BASE, 'v=0\n');
    const r = parseMessage(buf, { maxSize: 100 });
    err(r, 513, 'Message Too Large');
    assert.ok(!r.ok && r.message instanceof SipRequest && r.message.topVia.branch === 'z9hG4bK776asdhds');
    assert.ok(parseMessage(buf, { maxSize: buf.length }).ok);
  });
});

describe('serialization', () => {
  it('untouched lines stay byte-exact; changed and new ones are Name: value', () => {
    const lines = [...BASE];
    lines[2] = 'max-forwards:   70';
    lines.push('X-Keep:    spaced    value');
    const m = req(parseMessage(msg(lines, 'v=0\n')));
    m.headers.set('Max-Forwards', String((m.maxForwards ?? 70) - 1));
    m.headers.prepend('Via', 'SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp1');
    m.headers.append('Record-Route', '<sip:proxy.example.com;lr>');
    const out = m.toBuffer().toString('latin1');
    const expected = [
      BASE[0], 'Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp1', BASE[1], 'Max-Forwards: 69', ...BASE.slice(3),
      'X-Keep:    spaced    value', 'Record-Route: <sip:proxy.example.com;lr>',
    ].join(CRLF) + CRLF + CRLF + 'v=0\n';
    assert.equal(out, expected);
    const again = req(parseMessage(Buffer.from(out, 'latin1')));
    assert.equal(again.vias.length, 2);
    assert.equal(again.maxForwards, 69);
  });

  it('Content-Length follows the body; it is added when missing', () => {
    const m = req(parseMessage(msg(BASE, 'v=0\n')));
    m.body = Buffer.from('v=0\r\no=x\r\n');
    const out = m.toBuffer().toString('latin1');
    assert.ok(out.includes('\r\nContent-Length: 10\r\n'));
    assert.equal(out.match(/Content-Length/g)?.length, 1);
    const n = req(parseMessage(msg(without('Content-Length'), 'abc')));
    assert.ok(n.toBuffer().toString('latin1').endsWith('Content-Length: 3\r\n\r\nabc'));
  });

  it('start line is rebuilt only when changed', () => {
    const m = req(parseMessage(msg(['INVITE SIP:Bob@Biloxi.example.com;Transport=UDP SIP/2.0', ...BASE.slice(1)], 'v=0\n')));
    assert.ok(m.toBuffer().toString('latin1').startsWith('INVITE SIP:Bob@Biloxi.example.com;Transport=UDP SIP/2.0\r\n'));
    const u = m.uri as SipUri; // handing out the URI does not by itself change the line
    assert.ok(m.toBuffer().toString('latin1').startsWith('INVITE SIP:Bob@Biloxi.example.com;Transport=UDP SIP/2.0\r\n'));
    u.host = 'host2.example.com';
    assert.ok(m.toBuffer().toString('latin1').startsWith('INVITE sip:Bob@host2.example.com;transport=UDP SIP/2.0\r\n'));
    m.uri = SipUri.parse('sip:carol@chicago.example.com') as SipUri;
    m.method = 'OPTIONS';
    assert.ok(m.toBuffer().toString('latin1').startsWith('OPTIONS sip:carol@chicago.example.com SIP/2.0\r\n'));
  });

  it('response status line is rebuilt when status or reason change', () => {
    const buf = msg(['SIP/2.0 180 ringing now', ...BASE.slice(1, 7), 'Content-Length: 0']);
    const r = ok(parseMessage(buf)) as SipResponse;
    assert.ok(r.toBuffer().equals(buf));
    r.status = 183;
    r.reason = 'Session Progress';
    assert.ok(r.toBuffer().toString('latin1').startsWith('SIP/2.0 183 Session Progress\r\n'));
  });

  it('a message built by hand serializes with all headers', () => {
    const h = HeaderList.from([['v', 'SIP/2.0/UDP h;branch=z9hG4bKx'], ['call-id', 'c@h'], ['cseq', '1 OPTIONS'],
      ['from', '<sip:a@h>;tag=1'], ['to', '<sip:b@h>']]);
    const m = new SipRequest('OPTIONS', SipUri.parse('sip:b@h') as SipUri, h);
    assert.equal(m.toBuffer().toString('latin1'), 'OPTIONS sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\n' +
      'Call-ID: c@h\r\nCSeq: 1 OPTIONS\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nContent-Length: 0\r\n\r\n');
    assert.equal(m.cseq.method, 'OPTIONS');
  });
});

describe('accessors and caches', () => {
  it('follow header mutations', () => {
    const m = req(parseMessage(msg(BASE, 'v=0\n')));
    assert.equal(m.from.tag, '1928301774');
    m.headers.set('from', '<sip:x@y>;tag=new');
    assert.equal(m.from.tag, 'new');
    m.headers.prepend('via', 'SIP/2.0/TCP top;branch=z9hG4bKtop');
    assert.equal(m.topVia.host, 'top');
    assert.equal(m.vias.length, 2);
    m.headers.remove('max-forwards');
    assert.equal(m.maxForwards, null);
    // replacing the whole list (same version number) also invalidates
    m.headers = HeaderList.from([['call-id', 'other@h']]);
    m.headers.set('call-id', 'other@h');
    const fresh = new HeaderList();
    fresh.append('Call-ID', 'third@h');
    m.headers = fresh;
    assert.equal(m.callId, 'third@h');
  });

  it('throw SipMessageError for missing or malformed headers of hand-built messages', () => {
    const m = new SipRequest('OPTIONS', SipUri.parse('sip:b@h') as SipUri);
    assert.throws(() => m.callId, SipMessageError);
    assert.throws(() => m.topVia, SipMessageError);
    m.headers.set('cseq', 'junk');
    assert.throws(() => m.cseq, (e: unknown) => e instanceof SipMessageError && e.error.reason === 'Bad Request - Malformed CSeq');
    assert.equal(m.maxForwards, null);
    assert.deepEqual(m.routes, []);
  });

  it('clone is deep for headers and URI', () => {
    const m = req(parseMessage(msg([...BASE, 'Route: <sip:p1;lr>'], 'v=0\n')));
    const c = m.clone();
    assert.ok(c.toBuffer().equals(m.toBuffer()));
    c.headers.remove('route');
    (c.uri as SipUri).user = 'carol';
    assert.equal(m.routes.length, 1);
    assert.equal((m.uri as SipUri).user, 'bob');
    assert.ok(m.toBuffer().equals(msg([...BASE, 'Route: <sip:p1;lr>'], 'v=0\n')));
    const r = ok(parseMessage(msg(['SIP/2.0 200 OK', ...BASE.slice(1, 7), 'Content-Length: 0']))) as SipResponse;
    const rc = r.clone();
    rc.reason = 'Fine';
    assert.equal(r.reason, 'OK');
    assert.ok(rc instanceof SipResponse);
  });
});
