#!/usr/bin/env node
// `npm start`: the provider lab natively, on embedded defaults (no MySQL, no Docker).
//   npm start                                   # build, then run this
//   node scripts/lab.mjs [--host 127.0.0.1] [--port 5060] [--gateway IP:PORT]... [--radius HOST:PORT]
// Starts sip-proxy on the provider route over a provisioning file generated into the lab
// directory (demo subscribers alice, bob and carol with random passwords, kept between starts),
// rtp-relay, the built-in voicemail-bridge when it is built, and radius-acct when --radius names a
// RADIUS server. SIP listens on --port; every other listener (admin APIs, the relay's ng and HTTP
// ports, voicemail) gets a port the kernel hands out as free, so two labs on one machine do not
// collide. Prints where everything listens and how to point a softphone and SIPp at it; Ctrl-C
// stops everything. Each program's output is shown with its name in front. docs/lab.md.
/* global fetch, AbortSignal */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const USAGE = `usage: node scripts/lab.mjs [options]
  --host IP              address every service listens on (default 127.0.0.1)
  --port N               SIP port of the proxy, UDP and TCP (default 5060)
  --lab-dir DIR          provisioning, accounts, call records, spools (default .lab)
  --gateway IP:PORT      a PSTN gateway for LCR (repeatable: failover in the given order);
                         calls from that address and port are trusted (no digest auth).
                         On this machine use another loopback address: 127.0.0.2:5090
  --radius HOST:PORT     send call records to this RADIUS accounting server (radius-acct)
  --radius-secret S      its shared secret (default testing123, FreeRADIUS's localhost client)
  --no-rtp               do not start rtp-relay
  --no-voicemail         do not start voicemail-bridge
  --log-level L          fatal, error, warn, info (default), debug, trace`;

let parsed;
try {
  parsed = parseArgs({
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '5060' },
      'lab-dir': { type: 'string', default: join(root, '.lab') },
      gateway: { type: 'string', multiple: true, default: [] },
      radius: { type: 'string' },
      'radius-secret': { type: 'string', default: 'testing123' },
      'no-rtp': { type: 'boolean', default: false },
      'no-voicemail': { type: 'boolean', default: false },
      'log-level': { type: 'string', default: 'info' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
} catch (err) {
  console.error(`lab: ${err.message}\n${USAGE}`);
  process.exit(2);
}
const opts = parsed.values;
if (opts.help) {
  console.log(USAGE);
  process.exit(0);
}

function fail(message) {
  console.error(`lab: ${message}`);
  process.exit(2);
}

const host = opts.host;
if (!/^[0-9.]{7,15}$|^[0-9a-fA-F:]{2,45}$/.test(host)) fail(`--host must be an IP address, not ${host}`);
const port = Number(opts.port);
if (!Number.isInteger(port) || port < 1 || port > 65535) fail(`--port must be 1-65535, not ${opts.port}`);
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];
if (!LOG_LEVELS.includes(opts['log-level'])) fail(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);

/** `IP:PORT` or `[IPv6]:PORT` -> { ip, port }, or null. */
function parseIpPort(s) {
  const m = /^(?:\[([0-9a-fA-F:]{2,45})\]|([0-9.]{7,15})):(\d{1,5})$/.exec(s);
  if (m === null) return null;
  const p = Number(m[3]);
  return p >= 1 && p <= 65535 ? { ip: m[1] ?? m[2], port: p } : null;
}
const gateways = opts.gateway.map((g) => parseIpPort(g) ?? fail(`--gateway must be IP:PORT, not ${g}`));
let radius = null;
if (opts.radius !== undefined) {
  // A host name is fine for radius-acct, which resolves it; only the shape is checked here.
  if (!/^[A-Za-z0-9.:[\]-]{1,253}:\d{1,5}$/.test(opts.radius)) fail(`--radius must be HOST:PORT, not ${opts.radius}`);
  radius = opts.radius;
}

const bracket = (h) => (h.includes(':') ? `[${h}]` : h);
const hostPort = `${bracket(host)}:${port}`;
const labDir = resolve(opts['lab-dir']);
/** A path as the user types it from the current directory (the SIPp hint is run from there). */
const shown = (p) => {
  const r = relative(process.cwd(), p);
  return r === '' || r.startsWith('..') || isAbsolute(r) ? p : r;
};

/** Resolves to null when host:port can be bound over UDP and TCP, else the error code. */
function probe(h, p) {
  return new Promise((done) => {
    const udp = createSocket(h.includes(':') ? 'udp6' : 'udp4');
    udp.once('error', (err) => { udp.close(); done(`UDP ${err.code}`); });
    udp.bind({ address: h, port: p, exclusive: true }, () => {
      udp.close(() => {
        const tcp = createServer();
        tcp.once('error', (err) => done(`TCP ${err.code}`));
        tcp.listen({ host: h, port: p, exclusive: true }, () => tcp.close(() => done(null)));
      });
    });
  });
}

/**
 * A port the kernel hands out as free right now, for UDP and TCP alike (a listener is bound
 * moments later by the program it is given to). Never the same port twice in this lab.
 */
const handedOut = new Set([port]);
async function freePort(on = host) {
  for (let attempt = 0; attempt < 50; attempt++) {
    const p = await new Promise((done, reject) => {
      const tcp = createServer();
      tcp.once('error', reject);
      tcp.listen({ host: on, port: 0, exclusive: true }, () => {
        const got = tcp.address().port;
        tcp.close(() => done(got));
      });
    });
    if (!handedOut.has(p) && (await probe(on, p)) === null) {
      handedOut.add(p);
      return p;
    }
  }
  throw new Error(`no free port on ${on}`);
}

// ---------------------------------------------------------------------------------------------
// Processes

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

function start(name, args, env = {}) {
  // Own process group (detached): Ctrl-C reaches only the lab, which stops the programs in
  // order, and a program's worker processes are stopped with it (kill -PGID).
  const child = spawn(process.execPath, ['--enable-source-maps', ...args], {
    cwd: labDir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
  });
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

function signalGroup(child, signal) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  try { process.kill(-child.pid, signal); } catch { /* already gone */ }
}

function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  // The proxy first (no new calls), then what it drives; all at once is fine for a lab.
  for (const { child } of children) signalGroup(child, 'SIGTERM');
  // Anything still alive after 5 s is killed; then we leave.
  const hard = setTimeout(() => {
    for (const { child } of children) signalGroup(child, 'SIGKILL');
    process.exit(code);
  }, 5000);
  hard.unref();
  Promise.all(children.map(({ child }) => (child.exitCode !== null || child.signalCode !== null ? null : new Promise((r) => child.once('exit', r))))).then(() => process.exit(code));
}

process.on('SIGINT', () => { console.log('\nlab: stopping...'); stop(0); });
process.on('SIGTERM', () => stop(0));
process.on('SIGHUP', () => stop(0));
// Whatever happens to the lab itself, its programs do not outlive it.
process.on('exit', () => { for (const { child } of children) signalGroup(child, 'SIGKILL'); });

/** Resolves with the first match of `re` in the child's stdout, or null after `ms` or its exit. */
function waitForLine(child, re, ms) {
  return new Promise((done) => {
    let buf = '';
    const finish = (v) => { clearTimeout(timer); child.stdout.off('data', onData); child.off('exit', onExit); done(v); };
    const onData = (chunk) => {
      buf = (buf + chunk.toString()).slice(-65536);
      const m = re.exec(buf);
      if (m) finish(m);
    };
    const onExit = () => finish(null);
    const timer = setTimeout(() => finish(null), ms);
    child.stdout.on('data', onData);
    child.once('exit', onExit);
  });
}

/**
 * Polls an HTTP health endpoint until it answers 2xx (any status with `anyStatus`: radius-acct
 * answers 503 while no RADIUS server does, and is running all the same); false after `ms` or the
 * child's exit.
 */
async function waitForHealth(child, url, ms, anyStatus = false) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline && child.exitCode === null && child.signalCode === null) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.body?.cancel();
      if (res.ok || anyStatus) return true;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Provisioning: the demo accounts and the provider route's tables

const DEMO = [
  // ACL groups as in the book's chapter 7 (is_user_in "local", "ld", "int").
  { username: 'alice', groups: ['local', 'ld', 'int'] },
  { username: 'bob', groups: ['local', 'ld'] },
  { username: 'carol', groups: ['local'] },
];

/** Passwords are made once and kept, so a softphone set up yesterday still registers. */
function demoPasswords(file) {
  let kept = {};
  try { kept = JSON.parse(readFileSync(file, 'utf8')); } catch { /* first start, or unreadable: new ones */ }
  let changed = false;
  const out = {};
  for (const { username } of DEMO) {
    const pw = kept[username];
    if (typeof pw === 'string' && /^[A-Za-z0-9_-]{8,64}$/.test(pw)) out[username] = pw;
    else {
      out[username] = randomBytes(9).toString('base64url');
      changed = true;
    }
  }
  if (changed) writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`, { mode: 0o600 });
  return out;
}

function provisioning(domain, passwords) {
  const p = {
    domains: [domain],
    subscribers: DEMO.map(({ username }) => ({ username, domain, password: passwords[username] })),
    groups: DEMO.map(({ username, groups }) => ({ account: `${username}@${domain}`, groups })),
  };
  if (gateways.length > 0) {
    p.gateways = gateways.map((g, i) => ({ name: `gw${i + 1}`, host: `${bracket(g.ip)}:${g.port}`, transport: 'udp', tag: `gw${i + 1}` }));
    // Every number goes to the gateways, the first given first (lcr_rule prefix "" = any number).
    p.lcr_rules = [{ prefix: '', targets: p.gateways.map((g, i) => ({ gw: g.name, priority: i + 1 })) }];
    // A gateway calls subscribers in without digest auth (permissions: allow_trusted). Address
    // group 1 with the gateway's port, not a `trusted` row: that table has no port, and a lab's
    // gateways and phones often share 127.0.0.1, where an address-only row would trust every phone.
    p.addresses = gateways.map((g, i) => ({ grp: 1, ip_addr: g.ip, port: g.port, tag: `gw${i + 1}` }));
  }
  return p;
}

// ---------------------------------------------------------------------------------------------

const built = (service, file = 'main.js') => {
  const f = join(root, 'services', service, 'dist', file);
  return existsSync(f) ? f : null;
};
const proxyMain = built('proxy');
if (proxyMain === null) {
  console.error('lab: services/proxy/dist/main.js is missing: run `npm run build` (or `npm start`, which builds first)');
  process.exit(1);
}
const busy = await probe(host, port);
if (busy !== null) {
  console.error(`lab: ${hostPort} is already in use (${busy}). Another SIP server (a system kamailio/asterisk?) holds it;` +
    ` stop it or choose another port: npm start -- --port 5070`);
  process.exit(1);
}

mkdirSync(join(labDir, 'state'), { recursive: true });
const domain = bracket(host);
const passwords = demoPasswords(join(labDir, 'demo-accounts.json'));
const provisioningFile = join(labDir, 'provisioning.yaml');
writeFileSync(
  provisioningFile,
  `# Generated by scripts/lab.mjs at every start (edit the script or use your own file with\n` +
    `# sip-proxy --db file:PATH). Format: packages/storage/src/provisioning-file.ts.\n${stringify(provisioning(domain, passwords))}`,
  { mode: 0o600 },
);
const accJournal = join(labDir, 'acc.journal');
const level = opts['log-level'];
const lines = [];

// What the proxy is told of the others (config keys rtpengine.relays, voicemail.uri).
const proxyConfig = {};

// rtp-relay first: the proxy drives it over ng from the first call on.
const relayMain = built('rtpproxy');
if (!opts['no-rtp'] && relayMain !== null) {
  const ngPort = await freePort();
  const httpPort = await freePort();
  const child = start('rtp-relay', [relayMain, '--ng', `udp:${bracket(host)}:${ngPort}`, '--media-ip', host, '--http', `${bracket(host)}:${httpPort}`, '--log-level', level]);
  if (await waitForHealth(child, `http://${bracket(host)}:${httpPort}/health`, 60_000)) {
    // The proxy anchors media of calls with a NATed side (rtpengine engage: nat).
    proxyConfig.rtpengine = { relays: [`udp:${bracket(host)}:${ngPort}`] };
    lines.push(`  RTP relay            ng udp:${bracket(host)}:${ngPort}, media on ${host}; http://${bracket(host)}:${httpPort}/health, /metrics`);
  } else if (!stopping) {
    console.error('lab: rtp-relay did not answer on its health endpoint within 60 s');
    stop(1);
  }
} else if (!opts['no-rtp']) {
  lines.push('  RTP relay            not built (services/rtpproxy/dist/main.js missing), skipped');
}

// The built-in voicemail engine: mailboxes of the same subscribers, MWI NOTIFYs through the proxy.
const voicemailMain = built('voicemail-bridge');
/** voicemail-bridge's HTTP API, for the portal's voicemail pages (null: not running). */
let voicemailHttp = null;
if (!stopping && !opts['no-voicemail'] && voicemailMain !== null) {
  // The lab's domain is the proxy's IP: the voicemail server's unsolicited NOTIFYs carry a From
  // on the server's own address, which must not be in that domain (is_from_local would make the
  // server a local caller to challenge), so it takes another loopback address.
  // (IPv6: no second address to take for granted; the NOTIFYs are challenged there.)
  const vmHost = host === '127.0.0.1' ? '127.0.0.2' : host.includes(':') ? host : '127.0.0.1';
  const sipVm = await freePort(vmHost);
  const httpVm = await freePort();
  const vmConfig = join(labDir, 'voicemail-bridge.yaml');
  writeFileSync(vmConfig, stringify({ db: `file:${provisioningFile}`, spool: join(labDir, 'voicemail-spool'), proxy: `sip:${hostPort}`, media: { ip: host } }));
  const child = start('voicemail-bridge', [
    voicemailMain, '--config', vmConfig, '--listen', `udp:${bracket(vmHost)}:${sipVm}`, '--http', `${bracket(host)}:${httpVm}`, '--log-level', level,
  ]);
  if (await waitForHealth(child, `http://${bracket(host)}:${httpVm}/health`, 60_000)) {
    // Busy and unanswered calls go there; subscribers dial *98 for their mailbox.
    proxyConfig.voicemail = { uri: `sip:${bracket(vmHost)}:${sipVm}` };
    voicemailHttp = `http://${bracket(host)}:${httpVm}`;
    lines.push(`  voicemail            sip:${bracket(vmHost)}:${sipVm} (UDP, built-in engine; *98 = own mailbox); http://${bracket(host)}:${httpVm}/health`);
  } else if (!stopping) {
    console.error('lab: voicemail-bridge did not answer on its health endpoint within 60 s');
    stop(1);
  }
} else if (!opts['no-voicemail'] && voicemailMain === null) {
  lines.push('  voicemail            not built (services/voicemail-bridge/dist/main.js missing), skipped');
}

let proxyReady = null;
if (!stopping) {
  const proxyConfigFile = join(labDir, 'sip-proxy.yaml');
  writeFileSync(proxyConfigFile, `# Generated by scripts/lab.mjs at every start.\n${stringify(proxyConfig)}`);
  const proxy = start('sip-proxy', [
    proxyMain,
    '--route', 'provider',
    '--config', proxyConfigFile,
    '--listen', `udp:${hostPort}`,
    '--listen', `tcp:${hostPort}`,
    '--admin', `${bracket(host)}:${await freePort()}`,
    '--db', `file:${provisioningFile}`,
    '--state-dir', join(labDir, 'state'),
    '--acc-journal', accJournal,
    '--log-level', level,
  ]);
  proxyReady = await waitForLine(proxy, /listening on ([^;\n]+); admin API (\S+)/, 20_000);
  if (proxyReady === null && !stopping) {
    console.error('lab: sip-proxy did not report ready within 20 s');
    stop(1);
  }
}

let radiusLine = '  RADIUS accounting    off (--radius HOST:PORT starts radius-acct)';
const radiusMain = built('radius-acct');
if (!stopping && radius !== null) {
  if (radiusMain === null) {
    console.error('lab: --radius needs services/radius-acct/dist/main.js: run `npm run build`');
    stop(1);
  } else {
    const httpPort = await freePort();
    const child = start('radius-acct', [
      radiusMain, 'run', '--journal', accJournal, '--radius', radius, '--state-dir', join(labDir, 'radius-acct'),
      '--http', `${bracket(host)}:${httpPort}`, '--log-level', level,
    ], { RADIUS_ACCT_SECRET: opts['radius-secret'] }); // in the environment: ps shows command lines
    if (await waitForHealth(child, `http://${bracket(host)}:${httpPort}/health`, 60_000, true)) {
      radiusLine = `  RADIUS accounting    radius-acct -> ${radius}; http://${bracket(host)}:${httpPort}/health`;
    } else if (!stopping) {
      console.error('lab: radius-acct did not answer on its health endpoint within 60 s');
      stop(1);
    }
  }
}

// The provider portal (services/portal) on the same provisioning file, read-only: it shows the
// subscribers, online users and voicemail; changes are made in the file. Plain http, so it stays
// on loopback (its session cookie is Secure everywhere else).
let portalLines = ['  portal               not built (services/portal/dist/main.js missing), skipped'];
const portalMain = built('portal');
if (!stopping && proxyReady !== null && portalMain !== null) {
  const portalHost = host === '::1' || host.startsWith('127.') ? host : '127.0.0.1';
  const portalPort = await freePort(portalHost);
  const portalUrl = `http://${bracket(portalHost)}:${portalPort}`;
  const adminPassword = randomBytes(9).toString('base64url');
  const child = start('voip-portal', [
    portalMain, '--db', `file:${provisioningFile}`, '--listen', `${bracket(portalHost)}:${portalPort}`, '--proxy-admin', proxyReady[2],
    ...(voicemailHttp === null ? [] : ['--voicemail', voicemailHttp]), '--public-url', portalUrl, '--insecure-cookie', '--log-level', level,
  ], { VOIP_PORTAL_ADMIN_USER: 'admin', VOIP_PORTAL_ADMIN_PASSWORD: adminPassword }); // in the environment: ps shows command lines
  if (await waitForHealth(child, `${portalUrl}/health`, 60_000)) {
    portalLines = [`  portal               ${portalUrl}/  (read-only on the provisioning file; admin / ${adminPassword}, or a demo account as user@${domain})`];
  } else if (!stopping) {
    console.error('lab: voip-portal did not answer on its health endpoint within 60 s');
    stop(1);
  }
}

if (!stopping && proxyReady !== null) {
  const sippPort = await freePort();
  const inf = join(labDir, 'sipp-alice.csv');
  writeFileSync(inf, `SEQUENTIAL\nalice;${domain};${sippPort}\n`);
  const scenario = join(root, 'integration', 'src', 'mysql', 'scenarios', 'register-digest.xml');
  const banner = [
    '',
    `The lab is up: sip-proxy on the provider route, subscribers from ${shown(provisioningFile)}`,
    `  SIP proxy/registrar  ${proxyReady[1].trim()}   (domain ${domain}, digest auth)`,
    `  proxy admin API      ${proxyReady[2]}  (/health, /metrics, /location; sipctl --proxy-admin)`,
    ...lines,
    radiusLine,
    ...portalLines,
    `  call records         ${shown(accJournal)}`,
    '',
    `Demo accounts (domain ${domain}; passwords kept in ${shown(join(labDir, 'demo-accounts.json'))}):`,
    ...DEMO.map(({ username, groups }) => `  ${username.padEnd(6)} password ${passwords[username]}   groups ${groups.join(', ')}`),
    gateways.length === 0
      ? 'PSTN gateways: none (a PSTN number is answered 503; --gateway IP:PORT adds one)'
      : `PSTN gateways: ${gateways.map((g, i) => `gw${i + 1} ${bracket(g.ip)}:${g.port}`).join(', ')} (LCR in this order; trusted to call in)`,
    '',
    `Softphone (docs/lab.md): user alice, password ${passwords.alice}, domain ${port === 5060 ? domain : hostPort}, no outbound proxy,`,
    '  transport UDP or TCP; bob or carol on a second phone (its own port), then dial bob.',
    `SIPp: sipp ${hostPort} -sf ${shown(scenario)} -inf ${shown(inf)} -au alice -ap ${passwords.alice} -p ${sippPort} -key expires 600 -m 1`,
    'Ctrl-C stops everything.',
    '',
  ];
  console.log(banner.join('\n'));
}
