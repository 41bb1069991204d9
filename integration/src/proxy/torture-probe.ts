#!/usr/bin/env node
/**
 * Sends RFC 4475 torture messages to a proxy, one datagram each, and records what comes back.
 * Runs where the proxy is reachable, normally inside its isolated network (see
 * RunningProxy.runInNetwork), because the messages name foreign hosts.
 *
 *   node torture-probe.js HOST PORT FIXTURE_DIR WAIT_MS NAME...
 *
 * Each message is sent from a socket bound to 127.0.0.1 on the port of its top Via (5060
 * when none is given): RFC 3261 §18.2.2 sends a response to the `received` address (our
 * source, 127.0.0.1) at the sent-by port, so that socket gets the answer. Several torture
 * Vias name TCP: §18.2.2 then answers over a TCP connection to that address, so a TCP
 * listener on the same port collects those answers too. Prints one line
 * `RESULT <json>`: per message, every datagram received within WAIT_MS; then whether the
 * proxy still answers OPTIONS.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { SipText, UdpEndpoint, sipPing } from '../harness/index.js';

export interface ProbeAnswer {
  startLine: string;
  status: number | null;
  reason: string | null;
  headers: Record<string, string[]>;
  /** How it came back: UDP to the sending socket, or TCP (Via named TCP, RFC 3261 §18.2.2). */
  transport: string;
}

export interface ProbeResult {
  answers: Record<string, ProbeAnswer[]>;
  /** Status of the OPTIONS sent after the last message (null: no answer). */
  optionsAfter: number | null;
  errors: Record<string, string>;
}

/** Transport and sent-by port of the first Via line, read loosely (torture Vias are odd). */
function topVia(raw: string): { transport: string; port: number } {
  const lines = raw.split(/\r?\n/);
  for (let i = 0; i < lines.length && lines[i] !== ''; i++) {
    if (!/^(via|v)\s*:/i.test(lines[i]!)) continue;
    let value = lines[i]!.replace(/^[^:]*:/, '');
    // RFC 3261 §7.3.1 folding: continuation lines start with whitespace.
    while (i + 1 < lines.length && /^[ \t]/.test(lines[i + 1]!)) value += ' ' + lines[++i]!.trim();
    const m = /SIP\s*\/\s*2\.0\s*\/\s*(\w+)\s+(\[[^\]]*\]|[^\s:;,]+)\s*(?::\s*(\d+))?/i.exec(value);
    const port = m?.[3] ? Number(m[3]) : 5060;
    return { transport: (m?.[1] ?? 'UDP').toUpperCase(), port: port > 0 && port < 65536 ? port : 5060 };
  }
  return { transport: 'UDP', port: 5060 };
}

/** Call-ID of the raw message (full or compact form), read loosely; null when absent. */
function callIdOf(raw: string): string | null {
  const m = /^(?:call-id|i)[ \t]*:[ \t]*(\S+)/im.exec(raw.slice(0, raw.indexOf('\r\n\r\n') >>> 0));
  return m ? m[1]! : null;
}

/**
 * Several fixtures share the sent-by port (5060 when none is given), so an answer to an earlier
 * message that finishes late (a DNS failure, a timeout) could land while a later one is probed:
 * only answers carrying the probed message's own Call-ID count (all of them when it has none).
 */
function belongsTo(callId: string | null, text: string): boolean {
  return callId === null || callIdOf(text) === callId;
}

function toAnswer(text: string, transport: string): ProbeAnswer {
  const m = new SipText(text);
  const headers: Record<string, string[]> = {};
  for (const h of m.headers) (headers[h.key] ??= []).push(h.value);
  return { startLine: m.startLine, status: m.status, reason: m.reason, headers, transport };
}

/** Collects SIP messages arriving on TCP connections to 127.0.0.1:port (null if busy). */
async function tcpCollector(port: number): Promise<{ server: Server; texts: string[]; sockets: Set<Socket> } | null> {
  const texts: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((sock) => {
    sockets.add(sock);
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      // Split complete messages (header end + Content-Length body).
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) break;
        const len = Number(/\r\n(?:content-length|l)\s*:\s*(\d+)/i.exec(buf.slice(0, end + 2))?.[1] ?? 0);
        if (buf.length < end + 4 + len) break;
        texts.push(buf.slice(0, end + 4 + len));
        buf = buf.slice(end + 4 + len);
      }
    });
    sock.on('error', () => undefined);
    sock.on('close', () => sockets.delete(sock));
  });
  const ok = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => resolve(true));
  });
  return ok ? { server, texts, sockets } : null;
}

type TcpCollector = NonNullable<Awaited<ReturnType<typeof tcpCollector>>>;

/**
 * One TCP listener per sent-by port for the whole run: the proxy reuses its TCP connection to
 * a peer (RFC 3261 §18.2.2), so a listener torn down between fixtures would race with it.
 */
const tcpCollectors = new Map<number, TcpCollector | null>();

async function collectorFor(port: number): Promise<TcpCollector | null> {
  if (!tcpCollectors.has(port)) tcpCollectors.set(port, await tcpCollector(port));
  return tcpCollectors.get(port) ?? null;
}

async function closeCollectors(): Promise<void> {
  for (const tcp of tcpCollectors.values()) {
    if (!tcp) continue;
    for (const s of tcp.sockets) s.destroy();
    await new Promise((r) => tcp.server.close(r));
  }
}

async function probeOne(file: string, host: string, port: number, waitMs: number): Promise<ProbeAnswer[]> {
  const data = readFileSync(file);
  const via = topVia(data.toString('latin1'));
  // The proxy's own port cannot be ours: fall back to an ephemeral one then.
  const localPort = via.port === port ? 0 : via.port;
  const ep = await UdpEndpoint.open('127.0.0.1', localPort).catch(() => UdpEndpoint.open('127.0.0.1', 0));
  const tcp = localPort !== 0 ? await collectorFor(localPort) : null;
  const tcpStart = tcp ? tcp.texts.length : 0;
  try {
    await ep.send(data, host, port);
    const got = await ep.collect(waitMs);
    const callId = callIdOf(data.toString('latin1'));
    return [
      ...got.map((d) => d.data.toString('latin1')).filter((t) => belongsTo(callId, t)).map((t) => toAnswer(t, 'UDP')),
      ...(tcp ? tcp.texts.slice(tcpStart) : []).filter((t) => belongsTo(callId, t)).map((t) => toAnswer(t, 'TCP')),
    ];
  } finally {
    await ep.close();
  }
}

/**
 * RFC 3261 §17.2.3 server transaction key of a raw request, read loosely: top Via branch and
 * sent-by, and the CSeq method. Null for responses or when no branch is present.
 */
function transactionKey(raw: string): string | null {
  if (raw.startsWith('SIP/')) return null;
  const head = raw.slice(0, raw.indexOf('\r\n\r\n') >>> 0);
  const via = /^(?:via|v)[ \t]*:[ \t]*SIP[ \t]*\/[ \t]*2\.0[ \t]*\/[ \t]*\w+[ \t]+([^;,\r\n]+)[^\r\n]*?branch=([^;,\s]+)/im.exec(head);
  const cseq = /^cseq[ \t]*:[ \t]*\d+[ \t]+(\S+)/im.exec(head);
  return via ? `${via[2]}|${via[1]!.trim()}|${cseq?.[1] ?? ''}` : null;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const waitArg = args.find((a) => a.startsWith('--transaction-wait='));
  const transactionWait = waitArg ? Number(waitArg.slice('--transaction-wait='.length)) : 0;
  const [host, portText, dir, waitText, ...names] = args.filter((a) => !a.startsWith('--'));
  if (!host || !portText || !dir || !waitText) {
    process.stderr.write('usage: torture-probe HOST PORT FIXTURE_DIR WAIT_MS NAME...\n');
    process.exit(2);
  }
  const port = Number(portText);
  const result: ProbeResult = { answers: {}, optionsAfter: null, errors: {} };
  const keysSent = new Set<string>();
  for (const name of names) {
    // A message repeating an earlier one's transaction key would be absorbed as its
    // retransmission (§17.2.3): wait until that transaction has ended (Timer J).
    const key = transactionKey(readFileSync(join(dir, `${name}.dat`), 'latin1'));
    if (key !== null && keysSent.has(key) && transactionWait > 0) {
      await new Promise((r) => setTimeout(r, transactionWait));
      keysSent.clear();
    }
    if (key !== null) keysSent.add(key);
    try {
      result.answers[name] = await probeOne(join(dir, `${name}.dat`), host, port, Number(waitText));
    } catch (err) {
      result.errors[name] = (err as Error).message;
    }
  }
  await closeCollectors();
  const pong = await sipPing(host, port, 'udp', 2000);
  result.optionsAfter = pong?.status ?? null;
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
}

await main();
