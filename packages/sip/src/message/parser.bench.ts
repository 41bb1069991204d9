/**
 * Micro-benchmark of the message layer (not a test; no thresholds).
 * Run after building: node packages/sip/dist/message/parser.bench.js [iterations]
 * Prints CPU ns/op (best of 5 rounds) for parse, parse + serialize, and the proxy-like path (parse, read the
 * routing headers, add a Via, decrement Max-Forwards, serialize).
 */
import { parseMessage } from './parse-message.js';
import type { SipRequest } from './sip-message.js';

const INVITE = Buffer.from(
  [
    'INVITE sip:bob@biloxi.example.com SIP/2.0',
    'Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;rport',
    'Max-Forwards: 70',
    'To: Bob <sip:bob@biloxi.example.com>',
    'From: Alice <sip:alice@atlanta.example.com>;tag=1928301774',
    'Call-ID: a84b4c76e66710@pc33.atlanta.example.com',
    'CSeq: 314159 INVITE',
    'Contact: <sip:alice@pc33.atlanta.example.com:5060;transport=udp>',
    'Record-Route: <sip:p1.example.com;lr>',
    'Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY',
    'Supported: replaces, timer',
    'User-Agent: bench/1.0',
    'Content-Type: application/sdp',
    'Content-Length: 142',
    '',
    'v=0\r\no=alice 2890844526 2890844526 IN IP4 pc33.atlanta.example.com\r\ns=-\r\nc=IN IP4 192.0.2.101\r\nt=0 0\r\nm=audio 49172 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n',
  ].join('\r\n'),
  'latin1',
);

/**
 * Best of 5 rounds, timed by this process's CPU time (user + system) rather than the wall
 * clock, so other load on a shared machine skews the figure less.
 */
function bench(name: string, iterations: number, fn: () => void): void {
  for (let i = 0; i < Math.min(20000, iterations); i++) fn(); // warm-up
  let best = Infinity;
  for (let round = 0; round < 5; round++) {
    const c0 = process.cpuUsage();
    for (let i = 0; i < iterations; i++) fn();
    const c = process.cpuUsage(c0);
    best = Math.min(best, ((c.user + c.system) * 1000) / iterations);
  }
  console.log(`${name.padEnd(44)} ${best.toFixed(0).padStart(6)} ns/op`);
}

const n = Number(process.argv[2] ?? 100000);
console.log(`message size ${INVITE.length} bytes, ${n} iterations`);
let sink = 0;
bench('parseMessage', n, () => {
  const r = parseMessage(INVITE);
  if (r.ok) sink += r.message.headers.length;
});
bench('parseMessage + toBuffer', n, () => {
  const r = parseMessage(INVITE);
  if (r.ok) sink += r.message.toBuffer().length;
});
bench('proxy path (parse, read, add Via, MF-1, ser.)', n, () => {
  const r = parseMessage(INVITE);
  if (!r.ok) return;
  const m = r.message as SipRequest;
  sink += m.topVia.branch!.length + m.callId.length + m.cseq.seq + m.to.params.size + m.uri.toString().length;
  m.headers.prepend('via', 'SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKproxy1');
  m.headers.set('max-forwards', String((m.maxForwards ?? 70) - 1));
  sink += m.toBuffer().length;
});
if (sink === 42) console.log('');
