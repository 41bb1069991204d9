/**
 * The RTP party a SIPp phone starts with `exec` once its call is up, inside the phone's
 * namespace: `node rtp-party-cli.js BIND PORT TO TOPORT COUNT OUTFILE`. Positional arguments
 * only, because SIPp hands the command to `sh -c` without decoding XML entities (no quotes,
 * `&` or `>` survive). Self-contained (node:dgram only) so it starts in milliseconds, while the
 * call is still up. Streams G.711 at 50 packets/s (RFC 3551 §4.5.14: 20 ms, 160 bytes), keeps
 * listening until the peer's COUNT packets are in or 1.5 s have passed, then writes what it
 * received and from where to OUTFILE (atomically: the test waits for the file). It must be
 * done before its phone hangs up: the phone's SIPp takes it along when it ends (its process
 * group natively, its container in the containers backend), so it does not linger.
 */
import { createSocket } from 'node:dgram';
import { renameSync, writeFileSync } from 'node:fs';

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function main(): Promise<void> {
  const [bind, port, to, toPort, count, out] = process.argv.slice(2);
  if (out === undefined) throw new Error('usage: rtp-party-cli BIND PORT TO TOPORT COUNT OUTFILE');
  const sock = createSocket('udp4');
  const n = Number(count);
  let received = 0;
  let allIn: () => void = () => undefined;
  const peerDone = new Promise<void>((resolve) => { allIn = resolve; });
  const sources = new Set<string>();
  sock.on('message', (_m, r) => {
    received++;
    sources.add(`${r.address}:${r.port}`);
    // Both parties send COUNT packets: once all of the peer's are in, there is nothing to wait for.
    if (received >= n) allIn();
  });
  // ICMP errors (the peer not yet listening) must not end the party.
  sock.on('error', () => undefined);
  await new Promise<void>((resolve) => sock.bind(Number(port), bind, resolve));
  const ssrc = Math.floor(Math.random() * 0xffffffff);
  for (let seq = 0; seq < n; seq++) {
    const p = Buffer.alloc(12 + 160, 0xff);
    p[0] = 0x80; // RFC 3550 §5.1: V=2
    p[1] = 0; // PT 0 = PCMU
    p.writeUInt16BE(seq & 0xffff, 2);
    p.writeUInt32BE((seq * 160) >>> 0, 4);
    p.writeUInt32BE(ssrc, 8);
    sock.send(p, Number(toPort), to);
    await sleep(20);
  }
  let tail: NodeJS.Timeout | undefined;
  await Promise.race([peerDone, new Promise<void>((r) => { tail = setTimeout(r, 1_500); })]);
  clearTimeout(tail);
  writeFileSync(`${out}.tmp`, `${JSON.stringify({ sent: n, to: `${to}:${toPort}`, received, sources: [...sources] })}\n`);
  renameSync(`${out}.tmp`, out);
  sock.close();
}

main().catch((e: unknown) => {
  process.stderr.write(`${String(e)}\n`);
  process.exit(1);
});
