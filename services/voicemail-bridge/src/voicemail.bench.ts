/**
 * Speed figure for the built-in engine (issue 10): N simultaneous callers (default 200) each
 * leave a message. The bridge runs as its own process (its CPU is read from /proc); the
 * callers live in this process: raw SIP over UDP, one RTP socket each, and one shared 20 ms
 * timer sending a tone. Reported: greeting packets lost and their added jitter (arrival
 * deviation from the 20 ms grid of the first packet, per call), recording loss (20 ms frames of
 * silence in the stored WAVs, where a lost packet would have been filled), CPU per call.
 * No thresholds: it prints numbers.
 *   node services/voicemail-bridge/dist/voicemail.bench.js [--calls 200] [--seconds 10] [--ramp 1]
 */
import { spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeG711 } from './media/g711.js';

const args = process.argv.slice(2);
function arg(name: string, def: number): number {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
}
const CALLS = arg('calls', 200);
const SECONDS = arg('seconds', 10);
/** Seconds over which the calls arrive. */
const RAMP = arg('ramp', 1);
const GREETING_MS = 1250; // tone prompts: greeting 1.0 s + beep 0.25 s
const SIP_PORT = 25060;
const HTTP_PORT = 25902;

function cpuTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime, clock ticks (USER_HZ 100)
}

async function bind(port = 0): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((r, j) => {
    s.once('error', j);
    s.bind(port, '127.0.0.1', () => r());
  });
  return s;
}

interface Caller {
  n: number;
  user: string;
  callId: string;
  tag: string;
  rtp: Socket;
  remote: { port: number } | null;
  toTag: string;
  greeting: number[];
  seq: number;
  sent: number;
  sending: boolean;
  done: Promise<void>;
  resolveDone: () => void;
  byeSent: boolean;
}

function invite(c: Caller, sipLocal: number, rtpPort: number): string {
  const sdp = `v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio ${rtpPort} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n`;
  return (
    `INVITE sip:b${c.user}@127.0.0.1:${SIP_PORT} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${sipLocal};branch=z9hG4bK-${c.tag}-1;rport\r\nMax-Forwards: 70\r\n` +
    `From: <sip:caller${c.n}@bench.example>;tag=${c.tag}\r\nTo: <sip:${c.user}@bench.example>\r\nCall-ID: ${c.callId}\r\nCSeq: 1 INVITE\r\n` +
    `Contact: <sip:caller@127.0.0.1:${sipLocal}>\r\nContent-Type: application/sdp\r\nContent-Length: ${sdp.length}\r\n\r\n${sdp}`
  );
}

function inDialog(c: Caller, method: string, cseq: number, sipLocal: number): string {
  return (
    `${method} sip:voicemail@127.0.0.1:${SIP_PORT} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${sipLocal};branch=z9hG4bK-${c.tag}-${method}${cseq};rport\r\nMax-Forwards: 70\r\n` +
    `From: <sip:caller${c.n}@bench.example>;tag=${c.tag}\r\nTo: <sip:${c.user}@bench.example>;tag=${c.toTag}\r\nCall-ID: ${c.callId}\r\nCSeq: ${cseq} ${method}\r\nContent-Length: 0\r\n\r\n`
  );
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vm-bench-'));
  const users = Array.from({ length: CALLS }, (_, i) => `u${String(i).padStart(4, '0')}`);
  writeFileSync(join(dir, 'subs.yaml'), `subscribers:\n${users.map((u) => `  - { username: ${u}, domain: bench.example, password: x }`).join('\n')}\n`);
  const entry = fileURLToPath(new URL('./main.js', import.meta.url));
  const bridge = spawn(process.execPath, [entry, '--db', `file:${join(dir, 'subs.yaml')}`, '--spool', join(dir, 'spool'), '--listen', `udp:127.0.0.1:${SIP_PORT}`, '--http', `127.0.0.1:${HTTP_PORT}`, '--media-ports', '42000-43999', '--no-speech', '--max-calls', String(CALLS + 10), '--log-level', 'info'], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    let out: string | null = '';
    bridge.stdout!.on('data', (d: Buffer) => {
      if (out === null) return; // ready seen: the rest is drained, not kept
      out += d.toString();
      if (out.includes('voicemail-bridge ready')) {
        out = null;
        resolve();
      }
    });
    bridge.once('exit', (code) => reject(new Error(`bridge exited (${code}) before it was ready`)));
  });

  const sip = await bind();
  const sipLocal = sip.address().port;
  const byCallId = new Map<string, Caller>();
  const tone = new Int16Array(160);
  const payload = new Uint8Array(160);
  const callers: Caller[] = [];
  for (let i = 0; i < CALLS; i++) {
    const rtp = await bind();
    let resolveDone!: () => void;
    const done = new Promise<void>((r) => (resolveDone = r));
    const c: Caller = { n: i, user: users[i]!, callId: `bench-${i}-${process.pid}`, tag: `t${i}`, rtp, remote: null, toTag: '', greeting: [], seq: 0, sent: 0, sending: false, done, resolveDone, byeSent: false };
    rtp.on('message', () => c.greeting.push(performance.now()));
    byCallId.set(c.callId, c);
    callers.push(c);
  }
  sip.on('message', (m: Buffer) => {
    const text = m.toString('latin1');
    const callId = /\r\nCall-ID: *([^\r\n]+)/i.exec(text)?.[1];
    const c = callId === undefined ? undefined : byCallId.get(callId);
    if (c === undefined || !text.startsWith('SIP/2.0 200')) return;
    if (/CSeq: *1 INVITE/i.test(text) && c.remote === null) {
      c.toTag = /\r\nTo:[^\r\n]*;tag=([^;\r\n>]+)/i.exec(text)?.[1] ?? '';
      c.remote = { port: Number(/m=audio (\d+)/.exec(text)?.[1]) };
      sip.send(inDialog(c, 'ACK', 1, sipLocal), SIP_PORT, '127.0.0.1');
      setTimeout(() => (c.sending = true), GREETING_MS + 300);
    } else if (/CSeq: *2 BYE/i.test(text)) c.resolveDone();
  });

  const ticks0 = cpuTicks(bridge.pid!);
  const t0 = performance.now();
  // Calls start over RAMP seconds (default one: a burst of busy calls).
  for (const c of callers) {
    sip.send(invite(c, sipLocal, c.rtp.address().port), SIP_PORT, '127.0.0.1');
    await new Promise((r) => setTimeout(r, (RAMP * 1000) / CALLS));
  }
  // One shared 20 ms sender for every caller's audio (a 440 Hz tone, never silent).
  let frame = 0;
  const start = performance.now();
  const frames = SECONDS * 50;
  const sender = setInterval(() => {
    const due = Math.floor((performance.now() - start) / 20);
    while (frame <= due) {
      for (let i = 0; i < 160; i++) tone[i] = Math.round(8000 * Math.sin((2 * Math.PI * 440 * (frame * 160 + i)) / 8000)) | 1;
      encodeG711('PCMU', tone, payload);
      for (const c of callers) {
        if (!c.sending || c.remote === null || c.sent >= frames) continue;
        const pkt = Buffer.alloc(172);
        pkt[0] = 0x80;
        pkt[1] = c.sent === 0 ? 0x80 : 0;
        pkt.writeUInt16BE(c.seq++ & 0xffff, 2);
        pkt.writeUInt32BE((c.sent * 160) >>> 0, 4);
        pkt.writeUInt32BE(0x1000 + c.n, 8);
        pkt.set(payload, 12);
        c.rtp.send(pkt, c.remote.port, '127.0.0.1');
        c.sent++;
        if (c.sent === frames && !c.byeSent) {
          c.byeSent = true;
          setTimeout(() => sip.send(inDialog(c, 'BYE', 2, sipLocal), SIP_PORT, '127.0.0.1'), 200);
        }
      }
      frame++;
    }
  }, 5);
  await Promise.race([Promise.all(callers.map((c) => c.done)), new Promise((r) => setTimeout(r, (SECONDS + 30) * 1000))]);
  clearInterval(sender);
  const wall = (performance.now() - t0) / 1000;
  const cpuSeconds = (cpuTicks(bridge.pid!) - ticks0) / 100;

  // Greeting: packets received and deviation from the 20 ms grid anchored at the first packet.
  const expectedGreeting = Math.round(GREETING_MS / 20);
  let lostGreeting = 0;
  const dev: number[] = [];
  for (const c of callers) {
    const g = c.greeting;
    lostGreeting += Math.max(0, expectedGreeting - g.length);
    let minOff = Infinity;
    for (let i = 0; i < g.length; i++) minOff = Math.min(minOff, g[i]! - g[0]! - i * 20);
    for (let i = 0; i < g.length; i++) dev.push(g[i]! - g[0]! - i * 20 - minOff);
  }
  dev.sort((a, b) => a - b);
  // Recording: every message's WAV, counting 20 ms frames of pure silence (filled losses).
  let messages = 0;
  let silentFrames = 0;
  let totalFrames = 0;
  for (const c of callers) {
    const list = (await (await fetch(`http://127.0.0.1:${HTTP_PORT}/mailboxes/${c.user}@bench.example/messages`)).json()) as { id: string }[];
    for (const m of list) {
      messages++;
      const wav = Buffer.from(await (await fetch(`http://127.0.0.1:${HTTP_PORT}/mailboxes/${c.user}@bench.example/messages/${m.id}.wav`)).arrayBuffer());
      for (let off = 44; off + 320 <= wav.length; off += 320) {
        totalFrames++;
        let silent = true;
        for (let k = 0; k < 320; k += 2) if (wav.readInt16LE(off + k) !== 0) { silent = false; break; }
        if (silent) silentFrames++;
      }
    }
  }
  const metrics = await (await fetch(`http://127.0.0.1:${HTTP_PORT}/metrics`)).text();
  const health = (await (await fetch(`http://127.0.0.1:${HTTP_PORT}/health`)).json()) as { calls: number; dialogs: number };
  const metric = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics)?.[1]);
  const late = metric('voicemail_media_clock_ticks_total{late="yes"}');
  const onTime = metric('voicemail_media_clock_ticks_total{late="no"}');
  const pct = (p: number): string => (dev[Math.min(dev.length - 1, Math.floor(p * dev.length))] ?? NaN).toFixed(2);
  process.stdout.write(
    [
      `voicemail bench: ${CALLS} simultaneous calls arriving over ${RAMP} s, ${SECONDS} s of audio each, tone prompts`,
      `messages stored:            ${messages}/${CALLS}`,
      `recording loss:             ${silentFrames} of ${totalFrames} 20 ms frames filled with silence`,
      `greeting packets lost:      ${lostGreeting} of ${expectedGreeting * CALLS}`,
      `greeting jitter (ms):       p50 ${pct(0.5)}  p99 ${pct(0.99)}  max ${pct(1)}  (arrival vs 20 ms grid, per call)`,
      `bridge media clock (added jitter at the source): mean ${(metric('voicemail_media_clock_mean_lateness_seconds') * 1000).toFixed(2)} ms, max ${(metric('voicemail_media_clock_max_lateness_seconds') * 1000).toFixed(2)} ms, ${late} of ${late + onTime} ticks later than 5 ms`,
      `left behind after the run:  ${health.calls} calls, ${health.dialogs} dialogs`,
      `bridge CPU: ${cpuSeconds.toFixed(2)} s over ${wall.toFixed(1)} s = ${((cpuSeconds / wall) * 100).toFixed(1)} % of a core; ${((cpuSeconds / CALLS) * 1000).toFixed(1)} ms CPU per recorded call (${((cpuSeconds / wall / CALLS) * 100).toFixed(3)} % of a core per concurrent call)`,
      '',
    ].join('\n'),
  );
  bridge.kill('SIGTERM');
  sip.close();
  for (const c of callers) c.rtp.close();
  await new Promise((r) => setTimeout(r, 500));
  rmSync(dir, { recursive: true, force: true });
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
