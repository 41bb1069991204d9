#!/usr/bin/env node
// voicemail-bridge: voicemail for the provider stack (book ch. 8), built-in or on Asterisk.
//   voicemail-bridge --db URL [--listen udp:IP:PORT]... [--http HOST:PORT] [--spool DIR]
//                    [--proxy sip:HOST:PORT] [--backend builtin|asterisk] [--config FILE]
import { Command, InvalidArgumentError } from 'commander';
import { pino } from 'pino';
import { startBridge } from './bridge.js';
import { configFromEnv, configFromFile, loadConfig, type VoicemailConfig, type VoicemailConfigInput } from './config.js';
import { VoicemailError } from './errors.js';

function int(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new InvalidArgumentError('not an integer');
  return n;
}

function collect(v: string, prev: string[] | undefined): string[] {
  return [...(prev ?? []), v];
}

interface CliOptions {
  config?: string;
  backend?: string;
  listen?: string[];
  http?: string;
  db?: string;
  spool?: string;
  proxy?: string;
  mediaIp?: string;
  mediaAdvertise?: string;
  mediaPorts?: string;
  maxSeconds?: number;
  minSeconds?: number;
  maxCalls?: number;
  t1?: number;
  noSpeech?: boolean;
  speech?: boolean;
  amiHost?: string;
  amiUser?: string;
  amiSecret?: string;
  asteriskConf?: string;
  asteriskSpool?: string;
  logLevel?: string;
  checkConfig?: boolean;
}

function cliLayer(o: CliOptions): Partial<VoicemailConfigInput> {
  const media: Record<string, unknown> = {};
  if (o.mediaIp !== undefined) media.ip = o.mediaIp;
  if (o.mediaAdvertise !== undefined) media.advertise = o.mediaAdvertise;
  if (o.mediaPorts !== undefined) media.ports = o.mediaPorts;
  const recording: Record<string, unknown> = {};
  if (o.maxSeconds !== undefined) recording.maxSeconds = o.maxSeconds;
  if (o.minSeconds !== undefined) recording.minSeconds = o.minSeconds;
  const asterisk: Record<string, unknown> = {};
  if (o.amiHost !== undefined) asterisk.ami = o.amiHost;
  if (o.amiUser !== undefined) asterisk.username = o.amiUser;
  if (o.amiSecret !== undefined) asterisk.secret = o.amiSecret;
  if (o.asteriskConf !== undefined) asterisk.voicemailConf = o.asteriskConf;
  if (o.asteriskSpool !== undefined) asterisk.spool = o.asteriskSpool;
  return {
    backend: o.backend as VoicemailConfigInput['backend'],
    listen: o.listen,
    http: o.http,
    db: o.db,
    spool: o.spool,
    proxy: o.proxy,
    maxCalls: o.maxCalls,
    t1: o.t1,
    logLevel: o.logLevel as VoicemailConfigInput['logLevel'],
    media: Object.keys(media).length > 0 ? (media as VoicemailConfigInput['media']) : undefined,
    recording: Object.keys(recording).length > 0 ? (recording as VoicemailConfigInput['recording']) : undefined,
    asterisk: Object.keys(asterisk).length > 0 ? (asterisk as VoicemailConfigInput['asterisk']) : undefined,
    greetings: o.speech === false ? { speech: false } : undefined,
  };
}

async function run(cfg: VoicemailConfig): Promise<void> {
  const log = pino({ name: 'voicemail-bridge', level: cfg.logLevel });
  const bridge = await startBridge(cfg, log);
  log.info(
    {
      backend: cfg.backend,
      sip: bridge.sip.map((s) => `${s.protocol.toLowerCase()}:${s.address.includes(':') ? `[${s.address}]` : s.address}:${s.port}`),
      http: bridge.http === null ? 'off' : `${bridge.http.address}:${bridge.http.port}`,
      media: `${cfg.media.ip} ${cfg.media.ports.min}-${cfg.media.ports.max}`,
      spool: cfg.backend === 'builtin' ? cfg.spool : cfg.asterisk.spool,
      subscribers: bridge.directory.size,
      proxy: cfg.proxy?.uri ?? null,
    },
    'voicemail-bridge ready',
  );
  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping: finishing calls (recordings in progress are stored)');
    await bridge.stop();
    log.flush();
    process.exit(process.exitCode ?? 0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

async function main(argv: string[]): Promise<void> {
  const program = new Command()
    .name('voicemail-bridge')
    .description('Voicemail for the provider stack: built-in engine (greeting, recording, IVR, MWI) or a bridge to Asterisk')
    .option('-c, --config <file>', 'YAML or JSON configuration file')
    .option('--backend <builtin|asterisk>', 'who answers voicemail calls (default builtin)')
    .option('--listen <udp|tcp:IP:PORT>', 'SIP listener; repeat for more (default udp:127.0.0.1:5080)', collect)
    .option('--http <HOST:PORT|off>', 'HTTP API, health and metrics (default 127.0.0.1:9902)')
    .option('--db <url>', 'subscribers: mysql://USER:PASS@HOST:PORT/DB or file:provisioning.yaml (as sip-proxy --db)')
    .option('--spool <dir>', 'mailboxes and greetings of the built-in engine (default ./voicemail-spool)')
    .option('--proxy <sip:HOST:PORT>', 'outbound proxy for unsolicited MWI NOTIFYs')
    .option('--media-ip <IP>', 'address RTP binds to (default 127.0.0.1)')
    .option('--media-advertise <IP>', 'address written into SDP (1:1 NAT)')
    .option('--media-ports <MIN-MAX>', 'RTP/RTCP port range (default 40000-40999)')
    .option('--max-seconds <n>', 'maximum message length (default 180)', int)
    .option('--min-seconds <n>', 'shorter recordings are dropped (default 1)', Number)
    .option('--max-calls <n>', 'concurrent calls before 503 (default 1000)', int)
    .option('--t1 <ms>', 'RFC 3261 T1 (default 500)', int)
    .option('--no-speech', 'tone prompts even when espeak-ng is installed')
    .option('--ami-host <HOST:PORT>', 'Asterisk manager interface (default 127.0.0.1:5038)')
    .option('--ami-user <name>', 'AMI username')
    .option('--ami-secret <secret>', 'AMI secret')
    .option('--asterisk-conf <file>', 'voicemail.conf to generate (default /etc/asterisk/voicemail.conf)')
    .option('--asterisk-spool <dir>', "Asterisk's voicemail spool (default /var/spool/asterisk/voicemail)")
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace, silent')
    .option('--check-config', 'validate the configuration, print it and exit')
    .showHelpAfterError();
  program.parse(argv);
  const o = program.opts<CliOptions>();
  let cfg: VoicemailConfig;
  try {
    cfg = loadConfig(o.config ? configFromFile(o.config) : {}, configFromEnv(process.env), cliLayer(o));
  } catch (e) {
    if (e instanceof VoicemailError) {
      process.stderr.write(`voicemail-bridge: invalid configuration: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  if (o.checkConfig) {
    process.stdout.write(`${JSON.stringify({ ...cfg, db: cfg.db.replace(/:[^:@/]*@/, ':***@'), asterisk: { ...cfg.asterisk, secret: '***' } }, null, 2)}\nconfiguration OK\n`);
    return;
  }
  await run(cfg);
}

main(process.argv).catch((e: unknown) => {
  process.stderr.write(`voicemail-bridge: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
