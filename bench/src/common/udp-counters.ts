/**
 * UDP loss counters: machine-wide from /proc/net/snmp (RcvbufErrors: datagrams dropped because a
 * socket's receive buffer was full) and per socket from /proc/net/udp{,6} (the `drops` column),
 * so drops at the proxy under test can be told apart from drops at SIPp or at other programs on
 * this shared machine.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** The Udp: counters of /proc/net/snmp, by name (InDatagrams, RcvbufErrors, ...). */
export type UdpSnmpCounters = ReadonlyMap<string, number>;

/** Parses the two `Udp:` lines (names, then values) of /proc/net/snmp. */
export function parseUdpSnmp(text: string): UdpSnmpCounters {
  const out = new Map<string, number>();
  const lines = text.split('\n').filter((l) => l.startsWith('Udp: '));
  if (lines.length < 2) return out;
  const names = lines[0]!.slice(5).trim().split(/\s+/);
  const values = lines[1]!.slice(5).trim().split(/\s+/);
  for (let i = 0; i < names.length && i < values.length; i++) {
    const v = Number(values[i]);
    if (Number.isFinite(v)) out.set(names[i]!, v);
  }
  return out;
}

export function readUdpSnmp(path = '/proc/net/snmp'): UdpSnmpCounters {
  try {
    return parseUdpSnmp(readFileSync(path, 'utf8'));
  } catch {
    return new Map();
  }
}

/** One socket row of /proc/net/udp: local port and its cumulative drop count. */
export interface UdpSocketDrops {
  readonly localPort: number;
  readonly inode: number;
  readonly drops: number;
}

/**
 * Parses /proc/net/udp or /proc/net/udp6. Columns: sl local_address rem_address st
 * tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ref pointer drops; the local address
 * is HEXADDR:HEXPORT.
 */
export function parseProcNetUdp(text: string): UdpSocketDrops[] {
  const out: UdpSocketDrops[] = [];
  const lines = text.split('\n');
  for (let i = 1; i < lines.length; i++) {
    const cols = lines[i]!.trim().split(/\s+/);
    if (cols.length < 13) continue;
    const local = cols[1]!;
    const colon = local.lastIndexOf(':');
    if (colon < 0) continue;
    const localPort = parseInt(local.slice(colon + 1), 16);
    const inode = Number(cols[9]);
    const drops = Number(cols[12]);
    if (!Number.isFinite(localPort) || !Number.isFinite(drops)) continue;
    out.push({ localPort, inode, drops });
  }
  return out;
}

/**
 * Sum of the drop counters of every socket (IPv4 and IPv6) bound to one of `ports`. Several
 * worker processes may each hold their own socket on the same port (SO_REUSEPORT); all count.
 */
export function readSocketDrops(ports: ReadonlySet<number>, procNet = '/proc/net'): number {
  let total = 0;
  for (const file of ['udp', 'udp6']) {
    let text: string;
    try {
      text = readFileSync(`${procNet}/${file}`, 'utf8');
    } catch {
      continue;
    }
    for (const s of parseProcNetUdp(text)) if (ports.has(s.localPort)) total += s.drops;
  }
  return total;
}

/**
 * Parses `ss -uamnH` output into the receive buffer size (skmem `rb`, bytes as the kernel keeps
 * them: setsockopt(SO_RCVBUF, n) yields 2n, socket(7)) of each socket listed.
 */
export function parseSsReceiveBuffers(text: string): number[] {
  const out: number[] = [];
  for (const m of text.matchAll(/skmem:\([^)]{0,200}?\brb(\d{1,12})\b/g)) out.push(Number(m[1]));
  return out;
}

/**
 * Receive buffer sizes of the UDP sockets bound to `port`, read with iproute2's `ss` (there is no
 * /proc file for another process's SO_RCVBUF). Empty when `ss` is missing or nothing is bound.
 */
export function readSocketReceiveBuffers(port: number): number[] {
  try {
    const out = execFileSync('ss', ['-uamnH', `sport = :${port}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5_000 });
    return parseSsReceiveBuffers(out);
  } catch {
    return [];
  }
}
