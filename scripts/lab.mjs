#!/usr/bin/env node
// Quick start: the whole lab on embedded defaults, natively (no MySQL, no Docker).
//   npm start                      # build, then run this
//   node scripts/lab.mjs [--host 127.0.0.1] [--port 5060] [--no-rtp] [--log-level info]
// Starts sip-proxy on UDP and TCP (no auth, in-memory location, domain = listen address)
// and rtp-relay when it is built, prints where everything listens, and stops it all on
// Ctrl-C. Each program's output is shown with its name in front.
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const root = new URL('..', import.meta.url).pathname;

const { values: opts } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '5060' },
    'no-rtp': { type: 'boolean', default: false },
    'rtp-ng': { type: 'string', default: 'udp:127.0.0.1:22222' },
    'log-level': { type: 'string', default: 'info' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (opts.help) {
  console.log('usage: node scripts/lab.mjs [--host IP] [--port N] [--no-rtp] [--rtp-ng udp:IP:PORT] [--log-level L]');
  process.exit(0);
}

const host = opts.host;
const port = Number(opts.port);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  console.error(`lab: --port must be 1-65535, not ${opts.port}`);
  process.exit(2);
}
const bracket = (h) => (h.includes(':') ? `[${h}]` : h);

/** Resolves to null when host:port can be bound over UDP and TCP, else the error code. */
function probe(h, p) {
  return new Promise((resolve) => {
    const udp = createSocket(h.includes(':') ? 'udp6' : 'udp4');
    udp.once('error', (err) => { udp.close(); resolve(`UDP ${err.code}`); });
    udp.bind({ address: h, port: p, exclusive: true }, () => {
      udp.close(() => {
        const tcp = createServer();
        tcp.once('error', (err) => resolve(`TCP ${err.code}`));
        tcp.listen({ host: h, port: p, exclusive: true }, () => tcp.close(() => resolve(null)));
      });
    });
  });
}

const children = [];
let stopping = false;

function prefixLines(name, stream, out) {
  let buf = '';
  stream.on('data', (chunk) => {
    buf += chunk.toString();
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      out.write(`[${name}] ${buf.slice(0, nl)}\n`);
      buf = buf.slice(nl + 1);
    }
  });
}

function start(name, args) {
  const child = spawn(process.execPath, ['--enable-source-maps', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  prefixLines(name, child.stdout, process.stdout);
  prefixLines(name, child.stderr, process.stderr);
  child.on('exit', (code, signal) => {
    if (!stopping) {
      console.error(`lab: ${name} exited (${signal ?? `code ${code}`}); stopping the lab`);
      stop(1);
    }
  });
  children.push({ name, child });
  return child;
}

function waitForLine(child, re, ms) {
  return new Promise((resolve) => {
    let buf = '';
    const timer = setTimeout(() => resolve(null), ms);
    const onData = (chunk) => {
      buf += chunk.toString();
      const m = re.exec(buf);
      if (m) {
        clearTimeout(timer);
        child.stdout.off('data', onData);
        resolve(m);
      }
    };
    child.stdout.on('data', onData);
  });
}

function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  for (const { child } of children) if (child.exitCode === null) child.kill('SIGTERM');
  // Anything still alive after 5 s is killed; then we leave.
  const hard = setTimeout(() => {
    for (const { child } of children) if (child.exitCode === null) child.kill('SIGKILL');
    process.exit(code);
  }, 5000);
  hard.unref();
  Promise.all(children.map(({ child }) => (child.exitCode !== null ? null : new Promise((r) => child.once('exit', r))))).then(() => process.exit(code));
}

process.on('SIGINT', () => { console.log('\nlab: stopping...'); stop(0); });
process.on('SIGTERM', () => stop(0));

const proxyMain = join(root, 'services/proxy/dist/main.js');
if (!existsSync(proxyMain)) {
  console.error('lab: services/proxy/dist/main.js is missing: run `npm run build` (or `npm start`, which builds first)');
  process.exit(1);
}
const busy = await probe(host, port);
if (busy !== null) {
  console.error(`lab: ${bracket(host)}:${port} is already in use (${busy}). Another SIP server (a system kamailio/asterisk?) holds it;` +
    ` stop it or choose another port: node scripts/lab.mjs --port 5070`);
  process.exit(1);
}

// Call records of the embedded default go to an append-only journal (radius-acct --journal reads it).
mkdirSync(join(root, '.lab'), { recursive: true });
const accJournal = join(root, '.lab', 'acc.journal');
const proxy = start('sip-proxy', [
  proxyMain,
  '--listen', `udp:${bracket(host)}:${port}`,
  '--listen', `tcp:${bracket(host)}:${port}`,
  '--acc-journal', accJournal,
  '--log-level', opts['log-level'],
]);
const ready = await waitForLine(proxy, /listening on ([^;\n]+); admin API (\S+)/, 15_000);
if (ready === null) {
  console.error('lab: sip-proxy did not report ready within 15 s');
  stop(1);
} else {
  const lines = [
    '',
    'The lab is up:',
    `  SIP proxy/registrar  ${ready[1].trim()}   (domain ${bracket(host)}:${port}, no authentication)`,
    `  proxy admin API      ${ready[2]}  (/health, /metrics, /location)`,
    `  call records         ${accJournal}  (radius-acct --journal ... sends them to RADIUS)`,
  ];
  const relayMain = join(root, 'services/rtpproxy/dist/main.js');
  if (!opts['no-rtp'] && existsSync(relayMain)) {
    const relay = start('rtp-relay', [relayMain, '--ng', opts['rtp-ng'], '--media-ip', host, '--log-level', opts['log-level']]);
    const relayUp = await new Promise((resolve) => {
      const t = setTimeout(() => resolve(relay.exitCode === null), 1500);
      relay.once('exit', () => { clearTimeout(t); resolve(false); });
    });
    if (relayUp) lines.push(`  RTP relay (ng)       ${opts['rtp-ng']}   media on ${host}`);
  } else if (!opts['no-rtp']) {
    lines.push('  RTP relay            not built (services/rtpproxy/dist/main.js missing), skipped');
  }
  lines.push(
    '',
    `Register a phone as sip:alice@${bracket(host)}:${port}, call sip:bob@${bracket(host)}:${port}.`,
    `Try it with SIPp: sipp ${bracket(host)}:${port} -sf integration/scenarios/register.xml -m 1 -key user alice -key contact sip:alice@${bracket(host)}:5070 -key expires 600`,
    'Ctrl-C stops everything.',
    '',
  );
  console.log(lines.join('\n'));
}
