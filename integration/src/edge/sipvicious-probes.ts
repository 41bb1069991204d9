/**
 * A stricter svwar than the real one (sipvicious.ts runs Debian's sipvicious 0.3.3): raw UDP
 * from the test process, because the real tool cannot do two things the edge suite checks —
 * it always sends `User-Agent: friendly-scanner` (here any User-Agent, so the probe gets past
 * secfilter as a disguised scanner would), and it compares only the status line of each answer
 * with the answer for a missing extension (here the status, reason, header names in order and
 * the challenge without its nonce).
 *
 * Message shape as svwar's: a REGISTER per extension, To/From = the extension, R-URI
 * `sip:EXT@HOST`; an extension whose answer differs from the answer for a surely-missing one is
 * "found". The real svcrack is used as is (sipvicious.ts): what it cannot show, the answer to
 * each guess, the proxy's counters and log lines show.
 */
import { randomBytes } from 'node:crypto';
import { UdpEndpoint, type ReceivedDatagram } from '../harness/index.js';

function hex(n: number): string {
  return randomBytes(n).toString('hex');
}

export interface ProbeAnswer {
  status: number;
  reason: string;
  /** What the probe compares (the real svwar: the status line only): status, reason, header names in order, the challenge without its nonce. */
  shape: string;
}

function register(ep: UdpEndpoint, host: string, ext: string, ua: string, callId: string, cseq: number): string {
  return [
    `REGISTER sip:${ext}@${host} SIP/2.0`,
    `Via: SIP/2.0/UDP ${ep.address}:${ep.port};branch=z9hG4bK-${hex(8)};rport`,
    'Max-Forwards: 70',
    `To: "${ext}"<sip:${ext}@${host}>`,
    `From: "${ext}"<sip:${ext}@${host}>;tag=${hex(8)}`,
    `User-Agent: ${ua}`,
    `Call-ID: ${callId}`,
    `Contact: sip:${ext}@${ep.address}:${ep.port}`,
    `CSeq: ${cseq} REGISTER`,
    'Accept: application/sdp',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

function answerOf(d: ReceivedDatagram): ProbeAnswer {
  const m = d.message;
  const text = d.data.toString('latin1');
  const head = text.slice(0, text.indexOf('\r\n\r\n'));
  const lines = head.split('\r\n');
  const [, code, ...reason] = lines[0]!.split(' ');
  const names = lines.slice(1).map((l) => l.slice(0, l.indexOf(':')).trim().toLowerCase());
  const challenge = (m.header('www-authenticate') ?? '').replace(/nonce="[^"]*"/, 'nonce=N');
  return { status: Number(code), reason: reason.join(' '), shape: `${code} ${reason.join(' ')} | ${names.join(',')} | ${challenge}` };
}

function callIdOf(d: ReceivedDatagram): string | undefined {
  return d.message.header('call-id');
}

/**
 * svwar against `host:port` from `localAddress`: one REGISTER per extension, all sent, then a
 * barrier OPTIONS (no scanner UA) whose answer proves every probe before it was handled;
 * probes still unanswered then got no answer at all (null).
 */
export async function svwar(o: { host: string; port: number; domain: string; extensions: readonly string[]; userAgent: string; localAddress: string }): Promise<Map<string, ProbeAnswer | null>> {
  const ep = await UdpEndpoint.open(o.localAddress);
  try {
    const ids = new Map<string, string>();
    for (const ext of o.extensions) {
      const callId = hex(16);
      ids.set(ext, callId);
      await ep.send(register(ep, o.domain, ext, o.userAgent, callId, 1), o.host, o.port);
    }
    // Every probe is answered (or dropped) before the barrier: one socket, handled in order.
    for (const ext of o.extensions) await ep.waitFor((d) => callIdOf(d) === ids.get(ext) && (d.message.status ?? 0) >= 200, 300);
    const barrier = `barrier-${hex(8)}`;
    await ep.send(
      [
        `OPTIONS sip:${o.host}:${o.port} SIP/2.0`,
        `Via: SIP/2.0/UDP ${ep.address}:${ep.port};branch=z9hG4bK-${hex(8)};rport`,
        'Max-Forwards: 70',
        `From: <sip:probe@${ep.address}>;tag=${hex(4)}`,
        `To: <sip:${o.host}:${o.port}>`,
        `Call-ID: ${barrier}`,
        'CSeq: 1 OPTIONS',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
      o.host,
      o.port,
    );
    if ((await ep.waitFor((d) => callIdOf(d) === barrier, 5_000)) === null) throw new Error('svwar: the proxy did not answer the barrier OPTIONS');
    const out = new Map<string, ProbeAnswer | null>();
    for (const ext of o.extensions) {
      const d = ep.received.find((x) => callIdOf(x) === ids.get(ext) && (x.message.status ?? 0) >= 200);
      out.set(ext, d ? answerOf(d) : null);
    }
    return out;
  } finally {
    await ep.close();
  }
}
