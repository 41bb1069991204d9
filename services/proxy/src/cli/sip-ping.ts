/**
 * `sipctl ping <uri>`: one OPTIONS request over UDP (RFC 3261 §11) to the host and port of a SIP
 * URI, retransmitted per Timer E (§17.1.2.2: T1, doubling, up to T2) until a final response or
 * the timeout; reports the status line and the round-trip time.
 */
import { createSocket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { generateBranch, generateTag, isRequest, parseMessage, parseUri, SipUri } from '@voip/sip';
import { CliError } from './cli-error.js';

export interface PingResult {
  uri: string;
  destination: string;
  status: number;
  reason: string;
  rttMs: number;
  server: string | null;
}

const T1 = 500;
const T2 = 4_000;

export async function sipPing(target: string, timeoutMs: number): Promise<PingResult> {
  const text = /^sips?:/i.test(target) ? target : `sip:${target}`;
  const uri = parseUri(text);
  if (!(uri instanceof SipUri)) throw new CliError(`not a SIP URI: "${target.slice(0, 80)}"`, 2);
  const hostText = uri.host.replace(/^\[|\]$/g, '');
  let address: string;
  if (isIP(hostText)) address = hostText;
  else {
    try {
      address = (await lookup(hostText)).address;
    } catch {
      throw new CliError(`cannot resolve ${hostText}`);
    }
  }
  const port = uri.port ?? 5060;
  const family = isIP(address) === 6 ? 'udp6' : 'udp4';
  const sock = createSocket(family);
  try {
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(0, family === 'udp6' ? '::' : '0.0.0.0', () => resolve());
    });
    const localPort = sock.address().port;
    const localHost = family === 'udp6' ? '[::1]' : '127.0.0.1';
    const branch = generateBranch();
    const callId = `${generateTag()}@sipctl`;
    const ruri = uri.toString();
    const msg = Buffer.from(
      [
        `OPTIONS ${ruri} SIP/2.0`,
        `Via: SIP/2.0/UDP ${localHost}:${localPort};branch=${branch};rport`,
        'Max-Forwards: 70',
        `From: <sip:sipctl@${localHost}>;tag=${generateTag()}`,
        `To: <${ruri}>`,
        `Call-ID: ${callId}`,
        'CSeq: 1 OPTIONS',
        `Contact: <sip:sipctl@${localHost}:${localPort}>`,
        'Accept: application/sdp',
        'User-Agent: sipctl',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
      'latin1',
    );
    const started = process.hrtime.bigint();
    return await new Promise<PingResult>((resolve, reject) => {
      let interval = T1;
      let retransmit: NodeJS.Timeout | null = null;
      const send = (): void => {
        sock.send(msg, port, address);
        retransmit = setTimeout(send, interval);
        interval = Math.min(interval * 2, T2);
      };
      const deadline = setTimeout(() => {
        if (retransmit) clearTimeout(retransmit);
        reject(new CliError(`no response from ${address}:${port} within ${timeoutMs} ms`));
      }, timeoutMs);
      sock.on('message', (buf) => {
        const r = parseMessage(buf);
        if (!r.ok || isRequest(r.message)) return;
        const res = r.message;
        if (res.callId !== callId || res.topVia.branch !== branch) return;
        if (res.status < 200) {
          // §17.1.2.2: a provisional response moves retransmissions to T2 intervals.
          interval = T2;
          return;
        }
        clearTimeout(deadline);
        if (retransmit) clearTimeout(retransmit);
        resolve({
          uri: ruri,
          destination: `${address}:${port}`,
          status: res.status,
          reason: res.reason,
          rttMs: Number(process.hrtime.bigint() - started) / 1e6,
          server: res.headers.get('server') ?? res.headers.get('user-agent') ?? null,
        });
      });
      send();
    });
  } finally {
    sock.close();
  }
}
