/**
 * voicemail-bridge configuration: an optional YAML/JSON file, then VOICEMAIL_* environment
 * variables, then command-line options, validated once by a strict zod schema with defaults
 * and bounds and frozen (STYLE.md §9). Nothing else reads process.env.
 */
import { isIP } from 'node:net';
import { configFromEnvTable, deepFreeze, readConfigMapping, type EnvBinding } from '@voip/service-config';
import { z } from 'zod';
import { VoicemailError } from './errors.js';

const HOSTPORT_RE = /^(\[[0-9a-fA-F:.]{2,45}\]|[0-9.]{7,15}):(\d{1,5})$/;
const HOSTNAME_PORT_RE = /^(\[[0-9a-fA-F:.]{2,45}\]|[A-Za-z0-9.-]{1,253}):(\d{1,5})$/;

function parseHostPort(s: string, allowName: boolean): { address: string; port: number } | null {
  const m = (allowName ? HOSTNAME_PORT_RE : HOSTPORT_RE).exec(s);
  if (m === null) return null;
  const address = m[1]!.replace(/^\[|\]$/g, '');
  const port = Number(m[2]);
  // Port 0: the kernel picks one (tests, embedding).
  if (port > 65535) return null;
  if (!allowName && isIP(address) === 0) return null;
  return { address, port };
}

/** `udp:IP:PORT` or `tcp:IP:PORT` (IPv6 in brackets): a SIP listener. */
export const SipListenSchema = z
  .string()
  .max(64)
  .transform((s, ctx) => {
    const m = /^(udp|tcp):(.*)$/i.exec(s);
    const hp = m === null ? null : parseHostPort(m[2]!, false);
    if (m === null || hp === null) {
      ctx.addIssue({ code: 'custom', message: `SIP listen address "${s}" must look like udp:IP:PORT or tcp:IP:PORT` });
      return z.NEVER;
    }
    return { protocol: m[1]!.toUpperCase() as 'UDP' | 'TCP', address: hp.address, port: hp.port };
  });

/** `HOST:PORT` for the HTTP API. */
export const HttpListenSchema = z
  .string()
  .max(300)
  .transform((s, ctx) => {
    const hp = parseHostPort(s, true);
    if (hp === null) {
      ctx.addIssue({ code: 'custom', message: 'HTTP listen address must look like HOST:PORT (IPv6 in brackets)' });
      return z.NEVER;
    }
    return hp;
  });

/** `sip:HOST[:PORT]` of the outbound proxy, used as a loose route (RFC 3261 §8.1.2). */
export const ProxyUriSchema = z
  .string()
  .max(300)
  .transform((s, ctx) => {
    const m = /^sip:([^;:@]+|\[[0-9a-fA-F:.]+\])(?::(\d{1,5}))?(;transport=(udp|tcp))?$/i.exec(s);
    if (m === null) {
      ctx.addIssue({ code: 'custom', message: 'proxy must look like sip:HOST[:PORT][;transport=udp|tcp]' });
      return z.NEVER;
    }
    const host = m[1]!.replace(/^\[|\]$/g, '');
    return { host, port: m[2] === undefined ? 5060 : Number(m[2]), protocol: (m[4] ?? 'udp').toUpperCase() as 'UDP' | 'TCP', uri: s };
  });

/** `MIN-MAX` media port range, even start (RTP even, RTCP odd, RFC 3550 §11). */
export const PortRangeSchema = z
  .string()
  .max(16)
  .transform((s, ctx) => {
    const m = /^(\d{1,5})-(\d{1,5})$/.exec(s);
    const min = m ? Number(m[1]) : NaN;
    const max = m ? Number(m[2]) : NaN;
    if (!(min >= 1024 && max <= 65535 && max - min >= 3)) {
      ctx.addIssue({ code: 'custom', message: 'port range must be MIN-MAX within 1024-65535 with at least two pairs' });
      return z.NEVER;
    }
    return { min: min + (min % 2), max };
  });

const IpSchema = z
  .string()
  .max(45)
  .refine((s) => isIP(s) !== 0, 'must be an IP address');

export const VoicemailConfigSchema = z
  .object({
    /** Which engine answers calls: the built-in one, or Asterisk (the bridge then provisions it and relays MWI). */
    backend: z.enum(['builtin', 'asterisk']).default('builtin'),
    listen: z.array(SipListenSchema).min(1).max(8).prefault(['udp:127.0.0.1:5080']),
    /** `HOST:PORT` of the HTTP API, health and metrics, or "off". */
    http: z.union([z.literal('off'), HttpListenSchema]).prefault('127.0.0.1:9902'),
    /** Subscribers (mailboxes exist only for them): mysql://… or file:provisioning.yaml, like sip-proxy --db. */
    db: z.string().min(1).max(1024),
    /** Where mailboxes, greetings and in-progress recordings live. */
    spool: z.string().min(1).max(1024).default('./voicemail-spool'),
    /** Outbound proxy for unsolicited NOTIFYs to phones that never subscribe (and, for Asterisk, all MWI). */
    proxy: ProxyUriSchema.nullable().default(null),
    media: z
      .object({
        ip: IpSchema.default('127.0.0.1'),
        /** Written into SDP instead of `ip` (1:1 NAT). */
        advertise: IpSchema.nullable().default(null),
        ports: PortRangeSchema.prefault('40000-40999'),
      })
      .strict()
      .prefault({}),
    recording: z
      .object({
        /** Recording stops (and the call is ended) after this long. */
        maxSeconds: z.number().int().min(5).max(3600).default(180),
        /** Shorter recordings are dropped. */
        minSeconds: z.number().min(0).max(60).default(1),
        /** Packets held for reordering before they are written (20 ms each). */
        reorderDepth: z.number().int().min(1).max(100).default(10),
      })
      .strict()
      .prefault({}),
    greetings: z
      .object({
        /** Speak prompts with espeak-ng when it is installed; tones otherwise. */
        speech: z.boolean().default(true),
        voice: z.string().regex(/^[A-Za-z0-9+_-]{1,32}$/).default('en'),
      })
      .strict()
      .prefault({}),
    mwi: z
      .object({
        defaultExpires: z.number().int().min(1).max(86_400).default(3600),
        minExpires: z.number().int().min(1).max(3600).default(60),
        maxExpires: z.number().int().min(60).max(604_800).default(86_400),
        /** Send NOTIFYs through `proxy` to users without a subscription. */
        unsolicited: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    /** *98 mailbox access requires P-Asserted-Identity naming the mailbox (the proxy authenticated the caller). */
    requireAssertedIdentity: z.boolean().default(true),
    maxCalls: z.number().int().min(1).max(100_000).default(1000),
    /** Seconds between re-reads of the subscriber list. */
    subscriberRefreshSeconds: z.number().int().min(1).max(86_400).default(30),
    /** RFC 3261 T1 in ms (2xx retransmission, transaction timers). */
    t1: z.number().int().min(10).max(5000).default(500),
    asterisk: z
      .object({
        /** AMI `HOST:PORT`. */
        ami: HttpListenSchema.prefault('127.0.0.1:5038'),
        username: z.string().min(1).max(64).default('voicemail-bridge'),
        secret: z.string().max(128).default(''),
        /** voicemail.conf the bridge writes from the subscriber list (Asterisk reads it on `voicemail reload`). */
        voicemailConf: z.string().min(1).max(1024).default('/etc/asterisk/voicemail.conf'),
        /** Asterisk's voicemail spool (`<spool>/<context>/<mailbox>/INBOX/msgNNNN.{txt,wav}`). */
        spool: z.string().min(1).max(1024).default('/var/spool/asterisk/voicemail'),
        context: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).default('default'),
      })
      .strict()
      .prefault({}),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (!/^(mysql:\/\/|file:)/.test(c.db)) ctx.addIssue({ code: 'custom', path: ['db'], message: 'db must be mysql://USER:PASS@HOST:PORT/DB or file:PATH' });
    if (c.mwi.minExpires > c.mwi.defaultExpires || c.mwi.defaultExpires > c.mwi.maxExpires) {
      ctx.addIssue({ code: 'custom', path: ['mwi'], message: 'mwi needs minExpires <= defaultExpires <= maxExpires' });
    }
    if (c.recording.minSeconds >= c.recording.maxSeconds) ctx.addIssue({ code: 'custom', path: ['recording'], message: 'minSeconds must be below maxSeconds' });
  });

export type VoicemailConfigInput = z.input<typeof VoicemailConfigSchema>;
export type VoicemailConfig = Readonly<z.output<typeof VoicemailConfigSchema>>;

const ENV: Record<string, EnvBinding<keyof VoicemailConfigInput>> = {
  VOICEMAIL_BACKEND: { key: 'backend', kind: 'string' },
  VOICEMAIL_LISTEN: { key: 'listen', kind: 'list' },
  VOICEMAIL_HTTP: { key: 'http', kind: 'string' },
  VOICEMAIL_DB: { key: 'db', kind: 'string' },
  VOICEMAIL_SPOOL: { key: 'spool', kind: 'string' },
  VOICEMAIL_PROXY: { key: 'proxy', kind: 'string' },
  VOICEMAIL_MAX_CALLS: { key: 'maxCalls', kind: 'int' },
  VOICEMAIL_LOG_LEVEL: { key: 'logLevel', kind: 'string' },
};

/** Values from the environment (the caller passes process.env). */
export function configFromEnv(env: Readonly<Record<string, string | undefined>>): VoicemailConfigInput {
  return configFromEnvTable(ENV, env) as VoicemailConfigInput;
}

export function configFromFile(path: string): VoicemailConfigInput {
  return readConfigMapping(path, (reason) => new VoicemailError('VM_ERR_CONFIG', reason)) as VoicemailConfigInput;
}

/** Merges layers (later wins; nested objects merge key by key), validates and freezes. */
export function loadConfig(...layers: Partial<VoicemailConfigInput>[]): VoicemailConfig {
  const merged: Record<string, unknown> = {};
  for (const l of layers) {
    for (const [k, v] of Object.entries(l)) {
      if (v === undefined) continue;
      const prev = merged[k];
      merged[k] =
        prev !== null && typeof prev === 'object' && !Array.isArray(prev) && v !== null && typeof v === 'object' && !Array.isArray(v)
          ? { ...prev, ...v }
          : v;
    }
  }
  const r = VoicemailConfigSchema.safeParse(merged);
  if (!r.success) {
    throw new VoicemailError('VM_ERR_CONFIG', r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '));
  }
  return deepFreeze(r.data);
}
