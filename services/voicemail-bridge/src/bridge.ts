/**
 * Builds and wires one voicemail bridge from a validated configuration: SIP stack (transport
 * → transactions → UA), subscriber directory, mailbox store, MWI notifier, and either the
 * built-in engine (media, prompts, recording) or the Asterisk backend (AMI, voicemail.conf,
 * spool reader). Owns every piece and stops them in reverse order. main.ts only parses flags.
 */
import { DEFAULT_TIMER_SETTINGS, TransactionLayer, TransportLayer, type Logger } from '@voip/sip';
import type { FastifyInstance } from 'fastify';
import { AsteriskBackend } from './asterisk/asterisk-backend.js';
import { VoicemailEngine } from './calls/voicemail-engine.js';
import type { VoicemailConfig } from './config.js';
import { buildHttp, type GreetingWriter } from './http/http-server.js';
import { MailboxStore, type MailboxReader } from './mailbox/mailbox-store.js';
import { MediaClock } from './media/media-clock.js';
import { PortAllocator } from './media/port-allocator.js';
import { PromptLibrary } from './media/prompts.js';
import { VoicemailMetrics } from './metrics.js';
import { MwiNotifier } from './mwi/mwi-notifier.js';
import { UserAgent } from './sip/user-agent.js';
import { SubscriberDirectory, subscriberSource } from './subscribers/subscriber-directory.js';

export interface RunningBridge {
  readonly sip: { protocol: string; address: string; port: number }[];
  readonly http: { address: string; port: number } | null;
  readonly engine: VoicemailEngine | null;
  readonly clock: MediaClock | null;
  readonly ua: UserAgent;
  readonly mwi: MwiNotifier;
  readonly directory: SubscriberDirectory;
  stop(): Promise<void>;
}

export async function startBridge(cfg: VoicemailConfig, log: Logger): Promise<RunningBridge> {
  const directory = new SubscriberDirectory(subscriberSource(cfg.db));
  try {
    await directory.refresh();
  } catch (err) {
    // Keep running: the next refresh may succeed (a database still starting).
    log.error({ err }, 'subscriber list not loaded; mailboxes unknown until the next refresh');
  }

  const transport = new TransportLayer({ maxMessageSize: 65535, logger: log });
  const ua = new UserAgent(transport, log);
  const tl = new TransactionLayer(transport, ua, { timers: { ...DEFAULT_TIMER_SETTINGS, T1: cfg.t1 }, logger: log });
  ua.attach(tl);

  let engine: VoicemailEngine | null = null;
  let clock: MediaClock | null = null;
  let asterisk: AsteriskBackend | null = null;
  let mwi: MwiNotifier;
  let greetings: GreetingWriter;
  let mailboxes: MailboxReader;
  const mwiSettings = { ...cfg.mwi, proxy: cfg.proxy };
  // Sources are read at scrape time, so the metrics can exist before what they count.
  const metrics = new VoicemailMetrics({
    activeCalls: () => engine?.activeCalls ?? 0,
    subscriptions: () => mwi.size,
    subscribers: () => directory.size,
    dialogs: () => ua.dialogCount,
    mediaClock: () => clock?.stats ?? null,
    notifies: () => ({ sent: mwi.stats.notifiesSent, failed: mwi.stats.notifiesFailed, unsolicited: mwi.stats.unsolicitedSent }),
  });

  if (cfg.backend === 'builtin') {
    const store = new MailboxStore(cfg.spool);
    const prompts = new PromptLibrary({ speech: cfg.greetings.speech, voice: cfg.greetings.voice });
    await prompts.preload();
    log.info({ spoken: prompts.spoken }, prompts.spoken ? 'prompts spoken with espeak-ng' : cfg.greetings.speech ? 'espeak-ng unavailable: tone prompts' : 'tone prompts (speech off)');
    clock = new MediaClock();
    mwi = new MwiNotifier(ua, tl.wheel, store, directory, mwiSettings, log);
    store.setListener(mwi);
    mailboxes = store;
    greetings = store;
    engine = new VoicemailEngine({
      ua,
      wheel: tl.wheel,
      clock,
      ports: new PortAllocator(cfg.media.ports.min, cfg.media.ports.max),
      mailboxes: store,
      prompts,
      directory,
      mwi,
      settings: { maxRecordingSeconds: cfg.recording.maxSeconds, minRecordingSeconds: cfg.recording.minSeconds, reorderDepth: cfg.recording.reorderDepth, idleSeconds: 60 },
      observer: metrics,
      log,
      mediaIp: cfg.media.ip,
      mediaAdvertise: cfg.media.advertise ?? cfg.media.ip,
      maxCalls: cfg.maxCalls,
      requireAssertedIdentity: cfg.requireAssertedIdentity,
    });
  } else {
    asterisk = new AsteriskBackend(cfg.asterisk, directory, log, cfg.recording);
    mwi = new MwiNotifier(ua, tl.wheel, asterisk.spool, directory, mwiSettings, log);
    asterisk.spool.setListener(mwi);
    mailboxes = asterisk.spool;
    greetings = asterisk.spool;
  }
  ua.setHandler(engine ?? asterisk!.requestHandler(ua, mwi));


  const sip: RunningBridge['sip'] = [];
  for (const l of cfg.listen) {
    const t = await transport.listen({ protocol: l.protocol, address: l.address, port: l.port });
    sip.push({ protocol: t.protocol, address: t.local.address, port: t.local.port });
  }

  let http: FastifyInstance | null = null;
  let httpAddr: RunningBridge['http'] = null;
  if (cfg.http !== 'off') {
    http = buildHttp({
      mailboxes,
      greetings,
      directory,
      registry: metrics.registry,
      health: () => ({
        backend: cfg.backend,
        subscribers: directory.size,
        subscriberSource: directory.description,
        subscriberError: directory.lastError,
        calls: engine?.activeCalls ?? 0,
        subscriptions: mwi.size,
        dialogs: ua.dialogCount,
        ...(asterisk !== null ? { ami: asterisk.amiConnected } : {}),
      }),
    });
    await http.listen({ host: cfg.http.address, port: cfg.http.port });
    const a = http.server.address();
    httpAddr = a !== null && typeof a === 'object' ? { address: a.address, port: a.port } : { address: cfg.http.address, port: cfg.http.port };
  }

  if (asterisk !== null) await asterisk.start();

  const refresh = setInterval(() => {
    void directory
      .refresh()
      .then(() => asterisk?.provision())
      .catch((err: unknown) => log.warn({ err }, 'subscriber refresh failed; keeping the last list'));
  }, cfg.subscriberRefreshSeconds * 1000);
  refresh.unref();

  return {
    sip,
    http: httpAddr,
    engine,
    clock,
    ua,
    mwi,
    directory,
    async stop(): Promise<void> {
      clearInterval(refresh);
      await engine?.close();
      await asterisk?.stop();
      mwi.close();
      ua.close();
      clock?.close();
      await http?.close();
      tl.close();
      await transport.close();
      await directory.close();
    },
  };
}
