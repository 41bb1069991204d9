// RFC 4475 torture tests: every fixture against test-fixtures/rfc4475/expected.json,
// plus details the RFC calls out per message, plus a bounded seeded fuzz of the fixtures.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { parseMessage } from './parse-message.js';
import type { SipResponse } from './sip-message.js';
import { SipRequest } from './sip-message.js';
import { GenericUri, SipUri, uriEquals } from './uri.js';
import { decodeUtf8 } from './chars.js';

const DIR = new URL('../../test-fixtures/rfc4475/', import.meta.url);

interface Expectation {
  section: string;
  type: 'request' | 'response';
  parse: 'ok' | 'error';
  status?: number;
  partial?: boolean;
  roundTrip?: 'exact' | 'prefix' | 'normalized';
  response?: number | null;
}

const expected = JSON.parse(readFileSync(new URL('expected.json', DIR), 'utf8')) as {
  messages: Record<string, Expectation>;
};
const files = readdirSync(DIR).filter((f) => f.endsWith('.dat')).map((f) => f.slice(0, -4)).sort();
const load = (name: string): Buffer => readFileSync(new URL(name + '.dat', DIR));

function parsed(name: string): SipRequest | SipResponse {
  const r = parseMessage(load(name));
  assert.ok(r.ok, `${name}: ${r.ok ? '' : r.error.reason}`);
  return r.message;
}

describe('RFC 4475 fixtures', () => {
  it('every fixture has an expectation and vice versa', () => {
    assert.deepEqual(files, Object.keys(expected.messages).sort());
    assert.equal(files.length, 49);
  });

  for (const name of Object.keys(expected.messages)) {
    const exp = expected.messages[name];
    it(`${name} (§${exp.section}) ${exp.parse === 'ok' ? 'parses' : `is rejected with ${exp.status}`}`, () => {
      const buf = load(name);
      const r = parseMessage(buf);
      if (exp.parse === 'ok') {
        assert.ok(r.ok, `${name} rejected: ${r.ok ? '' : r.error.reason}`);
        const m = r.message;
        assert.equal(m instanceof SipRequest ? 'request' : 'response', exp.type);
        const out = m.toBuffer();
        if (exp.roundTrip === 'exact') assert.ok(out.equals(buf), `${name} does not round-trip`);
        else if (exp.roundTrip === 'prefix') {
          assert.ok(out.length < buf.length && out.equals(buf.subarray(0, out.length)));
        } else {
          // normalized: re-parsing what we wrote gives the same message
          const again = parseMessage(out);
          assert.ok(again.ok);
          assert.ok(again.message.body.equals(m.body));
          assert.equal(again.message.headers.length, m.headers.length + (m.headers.has('content-length') ? 0 : 1));
        }
      } else {
        assert.ok(!r.ok, `${name} accepted`);
        assert.equal(r.error.status, exp.status);
        assert.match(r.error.reason, exp.status === 505 ? /Version/ : /^Bad Request - /);
        assert.equal(r.message !== null, exp.partial, `${name}: partial message ${r.message !== null}`);
        if (r.message !== null) {
          assert.equal(r.message instanceof SipRequest ? 'request' : 'response', exp.type);
          assert.ok(r.message.topVia.host.length > 0);
        }
      }
    });
  }
});

describe('RFC 4475 §3.1.1 valid messages: what the RFC says must be seen', () => {
  it('wsinv: folding, compact forms, escaped quotes, LWS everywhere', () => {
    const m = parsed('wsinv') as SipRequest;
    assert.equal(m.method, 'INVITE');
    assert.equal((m.uri as SipUri).params.has('unknownparam'), true);
    assert.equal(m.to.tag, '1918181833n');
    assert.equal(m.from.displayName, 'J Rosenberg \\"');
    assert.equal(m.from.tag, '98asjd8');
    assert.equal(m.maxForwards, 68);
    assert.equal(m.cseq.seq, 9);
    assert.equal(m.cseq.method, 'INVITE');
    assert.equal(m.headers.get('s'), '');
    assert.equal(m.headers.get('NewFangledHeader'), 'newfangled value continued newfangled value');
    assert.equal(m.headers.get('UnknownHeaderWithUnusualValue'), ';;,,;;,;');
    assert.deepEqual(m.vias.map((v) => [v.transport, v.host, v.branch]), [
      ['UDP', '192.0.2.2', '390skdjuw'],
      ['TCP', 'spindle.example.com', 'z9hG4bK9ikj8'],
      ['UDP', '192.168.255.111', 'z9hG4bK30239'],
    ]);
    const c = m.contacts;
    assert.ok(!c.star);
    assert.equal(c.contacts.length, 1);
    assert.equal(c.contacts[0].displayName, 'Quoted string ""');
    assert.deepEqual([...c.contacts[0].params], [['newparam', 'newvalue'], ['secondparam', null], ['q', '0.33']]);
    assert.equal(m.routes.length, 1);
    assert.ok((m.routes[0].uri as SipUri).lr);
    assert.equal(m.body.length, 150);
  });

  it('intmeth: unusual token characters, quoted NUL/BEL/DEL, UTF-8', () => {
    const m = parsed('intmeth') as SipRequest;
    assert.equal(m.method, "!interesting-Method0123456789_*+`.%indeed'~");
    const u = m.uri as SipUri;
    assert.equal(u.user, "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
    assert.equal(u.password, "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
    assert.equal(u.host, 'example.com');
    assert.equal(m.to.displayName, 'BEL:\x07 NUL:\x00 DEL:\x7f');
    assert.equal(m.from.displayName, "token1~` token2'+_ token3*%!.-");
    assert.equal(m.from.tag, "_token~1'+`*%!-.");
    assert.equal(decodeUtf8(m.from.params.get("fromparam''~+*_!.-%") ?? ''), '"работающий"');
    assert.equal(m.callId, "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{");
    assert.equal(m.vias[0].branch, "z9hG4bK-.!%66*_+`'~");
    assert.equal(decodeUtf8(m.headers.get("extensionHeader-!.%*+_`'~") ?? ''), '\ufeff大停電');
    assert.equal(m.maxForwards, 255);
  });

  it('esc01: escapes kept as received; comparison resolves them', () => {
    const m = parsed('esc01') as SipRequest;
    assert.equal((m.uri as SipUri).user, 'sips%3Auser%40example.com');
    assert.equal((m.to.uri as SipUri).user, '%75se%72');
    assert.ok(uriEquals(m.to.uri, SipUri.parse('sip:user@example.com') as SipUri));
    const c = m.contacts;
    assert.ok(!c.star);
    assert.equal((c.contacts[0].uri as SipUri).params.get('n%61me'), 'v%61lue%25%34%31');
  });

  it('escnull: two distinct contacts with escaped NULs', () => {
    const m = parsed('escnull');
    const c = m.contacts;
    assert.ok(!c.star);
    assert.deepEqual(c.contacts.map((x) => (x.uri as SipUri).user), ['%00', '%00%00']);
    assert.ok(!uriEquals(c.contacts[0].uri, c.contacts[1].uri));
  });

  it('esc02: % is not an escape in methods, display names, header names', () => {
    const m = parsed('esc02') as SipRequest;
    assert.equal(m.method, 'RE%47IST%45R');
    assert.equal(m.to.displayName, '%Z%45');
    const c = m.contacts;
    assert.ok(!c.star);
    assert.equal(c.contacts.length, 2);
    assert.equal(m.headers.get('C%6Fntact'), '<sip:alias2@host2.example.com>');
  });

  it('lwsdisp, semiuri, transports, longreq', () => {
    assert.equal(parsed('lwsdisp').from.displayName, 'caller');
    const semi = parsed('semiuri') as SipRequest;
    assert.equal((semi.uri as SipUri).user, 'user;par=u%40example.net');
    assert.equal(semi.headers.values('accept').length, 6);
    assert.deepEqual(parsed('transports').vias.map((v) => v.transport), ['UDP', 'SCTP', 'TLS', 'UNKNOWN', 'TCP']);
    const long = parsed('longreq');
    assert.equal(long.vias.length, 34);
    assert.equal(long.vias[33].received, '192.0.2.5');
    assert.equal(long.to.displayName, `I have a user name of ${"extreme".repeat(10)} proportion`);
  });

  it('dblreq: the datagram carries only the REGISTER', () => {
    const m = parsed('dblreq') as SipRequest;
    assert.equal(m.method, 'REGISTER');
    assert.equal(m.body.length, 0);
  });

  it('mpart01: binary body kept exactly', () => {
    const m = parsed('mpart01');
    assert.equal(m.body.length, 553);
    assert.ok(m.body.includes(0));
  });

  it('unreason / noreason: reason phrases', () => {
    const u = parsed('unreason') as SipResponse;
    assert.equal(u.status, 200);
    assert.equal(decodeUtf8(u.reason), '= 2**3 * 5**2 но сто девяносто девять - простое');
    const n = parsed('noreason') as SipResponse;
    assert.equal(n.status, 100);
    assert.equal(n.reason, '');
  });
});

describe('RFC 4475 §3.3 / §3.4: parsed, left to the application', () => {
  it('unkscm, novelsc, unksm2: unknown schemes are kept opaque', () => {
    const a = parsed('unkscm') as SipRequest;
    assert.ok(a.uri instanceof GenericUri);
    assert.equal(a.uri.scheme, 'nobodyknowsthisscheme');
    const b = parsed('novelsc') as SipRequest;
    assert.equal((b.uri as GenericUri).scheme, 'soap.beep');
    const c = parsed('unksm2');
    assert.equal(c.to.uri.toString(), 'isbn:2983792873');
    assert.equal(c.from.uri.toString(), 'http://www.example.com');
  });

  it('zeromf, cparam01/02, regescrt, inv2543', () => {
    assert.equal(parsed('zeromf').maxForwards, 0);
    const c1 = parsed('cparam01').contacts;
    assert.ok(!c1.star && c1.contacts[0].params.has('unknownparam'));
    assert.ok(!c1.star && !(c1.contacts[0].uri as SipUri).params.has('unknownparam'));
    const c2 = parsed('cparam02').contacts;
    assert.ok(!c2.star && (c2.contacts[0].uri as SipUri).params.has('unknownparam'));
    const r = parsed('regescrt').contacts;
    assert.ok(!r.star && (r.contacts[0].uri as SipUri).headers.get('Route') === '%3Csip:sip.example.com%3E');
    const old = parsed('inv2543');
    assert.equal(old.topVia.branch, null);
    assert.equal(old.maxForwards, null);
    assert.equal(old.body.length, old.toBuffer().length - old.toBuffer().indexOf('\r\n\r\n') - 4);
  });
});

/** Small deterministic PRNG (mulberry32) so the fuzz run is reproducible. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const INTERESTING = [0x00, 0x09, 0x0a, 0x0d, 0x20, 0x22, 0x25, 0x2c, 0x2f, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f, 0x40, 0x5b, 0x5c, 0x5d, 0x7f, 0xff];

describe('fuzz: mutated fixtures never throw', () => {
  it('5000 seeded mutations (byte flips, deletions, insertions, truncation, splicing)', () => {
    const next = rng(4475);
    const bufs = files.map(load);
    for (let n = 0; n < 5000; n++) {
      const src = bufs[Math.floor(next() * bufs.length)];
      const b = Array.from(src);
      const edits = 1 + Math.floor(next() * 8);
      for (let e = 0; e < edits; e++) {
        const pos = Math.floor(next() * b.length);
        const op = Math.floor(next() * 5);
        if (op === 0) b[pos] = Math.floor(next() * 256);
        else if (op === 1) b[pos] = INTERESTING[Math.floor(next() * INTERESTING.length)];
        else if (op === 2) b.splice(pos, 1 + Math.floor(next() * 10));
        else if (op === 3) b.splice(pos, 0, INTERESTING[Math.floor(next() * INTERESTING.length)]);
        else b.length = pos;
      }
      const buf = Buffer.from(b);
      const r = parseMessage(buf, { maxSize: 4096 });
      // Whatever comes back must be usable without throwing.
      if (r.ok) {
        const m = r.message;
        void m.callId;
        void m.cseq;
        void m.topVia;
        m.toBuffer();
        m.clone().toBuffer();
      } else if (r.message !== null) {
        void r.message.topVia;
        r.message.toBuffer();
      }
    }
  });
});
