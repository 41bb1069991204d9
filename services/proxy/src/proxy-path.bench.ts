/**
 * In-process micro-benchmark of the whole proxy path (transport receive → parse → transaction
 * → routing → forward → serialize) for one complete call: INVITE, 100, 180, 200, ACK, BYE, 200,
 * the stateful, record-routed flow `npm run bench:proxy` drives with SIPp. A fake transport
 * stands in for the sockets, so the figure is our own CPU per call without the kernel's
 * loopback and SIPp's wake-ups; it is repeatable on a busy machine, for comparing changes.
 *
 *   node services/proxy/dist/proxy-path.bench.js [calls]
 *
 * Not a test (no timing thresholds in tests); run by hand or with --cpu-prof.
 */
import { silentLogger } from '@voip/sip';
import { setImmediate as tick } from 'node:timers/promises';
import { parseConfig } from './config.js';
import { startProxy } from './server.js';
import { LoopbackFakeUdp, WARM_UP_UAC as UAC, WARM_UP_UAS as UAS } from './warm-up.js';

/** The proxy's address as the fake transport presents it (warm-up.ts' LoopbackFakeUdp). */
const PROXY = { address: '127.0.0.1', port: 5060 };

/** warm-up.ts' fake UDP socket; here a missing datagram is a broken path, not a skipped step. */
class FakeUdp extends LoopbackFakeUdp {
  takeOrThrow(port: number): string {
    const found = this.take(port);
    if (found === null) throw new Error(`nothing sent to port ${port}`);
    return found;
  }
}

const SDP = 'v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n';

function invite(n: number): string {
  return (
    `INVITE sip:bench@${UAS.address}:${UAS.port} SIP/2.0\r\n` +
    `Via: SIP/2.0/UDP ${UAC.address}:${UAC.port};branch=z9hG4bK-${n}-1-0\r\n` +
    `From: sipp <sip:sipp@${UAC.address}:${UAC.port}>;tag=${n}SIPpTag001\r\n` +
    `To: <sip:bench@${UAS.address}:${UAS.port}>\r\n` +
    `Call-ID: ${n}-bench@${UAC.address}\r\n` +
    'CSeq: 1 INVITE\r\n' +
    `Contact: <sip:sipp@${UAC.address}:${UAC.port}>\r\n` +
    'Max-Forwards: 70\r\nSubject: bench\r\nContent-Type: application/sdp\r\n' +
    `Content-Length: ${SDP.length}\r\n\r\n${SDP}`
  );
}

/** Header lines of `name` (as we write them: `Name: value`) in a raw message, in order. */
function lines(raw: string, name: string): string[] {
  const out: string[] = [];
  const key = `\r\n${name}: `;
  const end = raw.indexOf('\r\n\r\n');
  for (let i = raw.indexOf(key); i >= 0 && i < end; i = raw.indexOf(key, i + 2)) out.push(raw.slice(i + 2, raw.indexOf('\r\n', i + 2)));
  return out;
}

function response(req: string, status: string, toTag: string, extra = ''): string {
  const to = lines(req, 'To')[0]!;
  return (
    `SIP/2.0 ${status}\r\n${lines(req, 'Via').join('\r\n')}\r\n${lines(req, 'Record-Route').join('\r\n')}${lines(req, 'Record-Route').length ? '\r\n' : ''}` +
    `${lines(req, 'From')[0]}\r\n${to.includes('tag=') ? to : `${to};tag=${toTag}`}\r\n${lines(req, 'Call-ID')[0]}\r\n${lines(req, 'CSeq')[0]}\r\n` +
    `Contact: <sip:bench@${UAS.address}:${UAS.port}>\r\n${extra}Content-Length: 0\r\n\r\n`
  );
}

function inDialog(method: string, n: number, cseq: number): string {
  return (
    `${method} sip:bench@${UAS.address}:${UAS.port} SIP/2.0\r\n` +
    `Via: SIP/2.0/UDP ${UAC.address}:${UAC.port};branch=z9hG4bK-${n}-${cseq}-${method}\r\n` +
    `Route: <sip:${PROXY.address}:${PROXY.port};lr>\r\n` +
    `From: sipp <sip:sipp@${UAC.address}:${UAC.port}>;tag=${n}SIPpTag001\r\n` +
    `To: <sip:bench@${UAS.address}:${UAS.port}>;tag=uas${n}\r\n` +
    `Call-ID: ${n}-bench@${UAC.address}\r\n` +
    `CSeq: ${cseq} ${method}\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`
  );
}

function oneCall(t: FakeUdp, n: number): void {
  t.receive(invite(n), UAC);
  const fwd = t.takeOrThrow(UAS.port);
  t.receive(response(fwd, '100 Trying', ''), UAS);
  t.receive(response(fwd, '180 Ringing', `uas${n}`), UAS);
  t.receive(response(fwd, '200 OK', `uas${n}`), UAS);
  t.out.length = 0;
  t.receive(inDialog('ACK', n, 1), UAC);
  t.receive(inDialog('BYE', n, 2), UAC);
  const bye = t.takeOrThrow(UAS.port);
  t.receive(response(bye, '200 OK', `uas${n}`), UAS);
  t.out.length = 0;
}

async function main(): Promise<void> {
  const calls = Number(process.argv[2] ?? 50_000);
  // The overload guard is off: 500 calls per event-loop turn look like an overloaded loop to it
  // (event-loop delay, pending transactions), and it would answer 503 instead of relaying.
  const config = parseConfig({ listen: ['udp:127.0.0.1:5060'], admin: { listen: '' }, logLevel: 'silent', overload: { enabled: false } });
  let fake: FakeUdp | null = null;
  const proxy = await startProxy(config, silentLogger, { transports: (host) => [(fake = new FakeUdp(host))] });
  const t = fake!;
  // Warm-up: let V8 optimize the path before measuring.
  for (let i = 0; i < 5_000; i++) oneCall(t, i);
  await tick();
  let n = 5_000;
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  for (let done = 0; done < calls; done += 500) {
    for (let i = 0; i < 500; i++) oneCall(t, n++);
    // Let timers run (transaction clean-up) as they would between datagrams.
    await tick();
  }
  const cpu = process.cpuUsage(cpu0);
  const wall = performance.now() - wall0;
  const us = (cpu.user + cpu.system) / calls;
  process.stdout.write(
    `proxy path: ${us.toFixed(1)} µs CPU per call (${calls} calls, ${(calls / (wall / 1000)).toFixed(0)} calls/s on one core, ` +
      `heap ${(process.memoryUsage().heapUsed / 1e6).toFixed(0)} MB)\n`,
  );
  await proxy.close();
}

await main();
