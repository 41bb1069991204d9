/**
 * voip-portal configuration: an optional YAML/JSON file, then VOIP_PORTAL_* environment
 * variables, then command-line options, validated once by a strict zod schema with defaults and
 * bounds, then frozen (STYLE.md §9). Nothing else reads process.env.
 */
import { configFromEnvTable, deepFreeze, readConfigMapping, type EnvBinding } from '@voip/service-config';
import { z } from 'zod';
import { PortalError } from './errors.js';

const HOSTPORT_RE = /^(\[[0-9a-fA-F:.]{2,45}\]|[A-Za-z0-9.-]{1,253}):(\d{1,5})$/;

/** `HOST:PORT` of the portal's HTTP listener. */
export const ListenSchema = z
  .string()
  .max(300)
  .transform((s, ctx) => {
    const m = HOSTPORT_RE.exec(s);
    if (m === null || Number(m[2]) > 65535) {
      ctx.addIssue({ code: 'custom', message: 'listen must look like HOST:PORT (IPv6 in brackets)' });
      return z.NEVER;
    }
    return { address: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
  });

const HttpUrl = z
  .string()
  .max(500)
  .refine((s) => /^https?:\/\/[^\s]+$/.test(s), 'must be an http:// or https:// URL')
  .transform((s) => s.replace(/\/+$/, ''));

export const PortalConfigSchema = z
  .object({
    /** Where the portal listens (8090: clear of the proxy's 5060/8080 and voicemail-bridge's 9902). */
    listen: ListenSchema.prefault('127.0.0.1:8090'),
    /** mysql://USER:PASS@HOST:PORT/DB (read-write) or file:provisioning.yaml (read-only). */
    db: z.string().min(1).max(2000),
    /** The proxy's admin API (sip-proxy prints it at start-up); unset: changes apply at the proxy's next periodic reload. */
    proxyAdminUrl: HttpUrl.optional(),
    /** voicemail-bridge's HTTP API; unset: no voicemail pages. */
    voicemailUrl: HttpUrl.optional(),
    /** The address users type, used in confirmation links (e.g. https://portal.example.com). */
    publicUrl: HttpUrl.default('http://127.0.0.1:8090'),
    /** The first administrator, created at start when no account of that name exists. */
    admin: z
      .object({ user: z.string().min(1).max(64).regex(/^[A-Za-z0-9_.@-]+$/).optional(), password: z.string().min(8).max(256).optional() })
      .strict()
      .prefault({}),
    session: z
      .object({
        /** Idle time after which a session ends (ms). */
        idleTimeout: z.number().int().min(60_000).max(86_400_000).default(1_800_000),
        /** Secure cookie flag; only false when the portal is served over plain http on loopback. */
        secureCookie: z.boolean().default(true),
        /** Sessions kept at most (oldest dropped first): bounded memory. */
        maxSessions: z.number().int().min(10).max(1_000_000).default(10_000),
      })
      .strict()
      .prefault({}),
    signIn: z
      .object({
        /** Failures per source IP or per account before it is locked. */
        maxFailures: z.number().int().min(1).max(100).default(5),
        /** First lock (ms); doubles with each further failure up to maxLock. */
        lock: z.number().int().min(1_000).max(3_600_000).default(30_000),
        maxLock: z.number().int().min(1_000).max(86_400_000).default(900_000),
      })
      .strict()
      .prefault({}),
    /** scrypt cost N (2^15 = 32 MiB with r=8: memory-hard, RFC 7914 §2). */
    scryptCost: z.number().int().min(16_384).max(1_048_576).refine((n) => (n & (n - 1)) === 0, 'scryptCost must be a power of two').default(32_768),
    signup: z
      .object({
        enabled: z.boolean().default(true),
        /** Domains a visitor may sign up in; empty = every domain of the domain table. */
        domains: z.array(z.string().min(1).max(64)).max(100).default([]),
        /** How long the confirmation link works (ms). */
        linkTtl: z.number().int().min(60_000).max(30 * 86_400_000).default(86_400_000),
      })
      .strict()
      .prefault({}),
    smtp: z
      .object({
        host: z.string().min(1).max(253).default('127.0.0.1'),
        port: z.number().int().min(1).max(65535).default(25),
        secure: z.boolean().default(false),
        user: z.string().max(256).optional(),
        password: z.string().max(256).optional(),
        from: z.string().min(3).max(256).default('portal@localhost'),
      })
      .strict()
      .prefault({}),
    /** Store the SIP password in clear too (needed for SHA-256 digest); false: only ha1/ha1b (MD5), like `sipctl add --no-plaintext`. */
    storePlaintext: z.boolean().default(false),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (!/^(mysql:\/\/|file:|memory:)/.test(c.db)) ctx.addIssue({ code: 'custom', path: ['db'], message: 'db must be mysql://USER:PASS@HOST:PORT/DB or file:PATH' });
    if ((c.admin.user === undefined) !== (c.admin.password === undefined)) ctx.addIssue({ code: 'custom', path: ['admin'], message: 'admin needs both user and password' });
    if (!c.session.secureCookie && !/^(127\.|::1$|localhost$)/.test(c.listen.address)) {
      ctx.addIssue({ code: 'custom', path: ['session', 'secureCookie'], message: 'secureCookie may be false only when the portal listens on loopback' });
    }
    if (c.signIn.lock > c.signIn.maxLock) ctx.addIssue({ code: 'custom', path: ['signIn'], message: 'lock must not exceed maxLock' });
  });

export type PortalConfigInput = z.input<typeof PortalConfigSchema>;
export type PortalConfig = Readonly<z.output<typeof PortalConfigSchema>>;

const ENV: Record<string, EnvBinding<keyof PortalConfigInput>> = {
  VOIP_PORTAL_LISTEN: { key: 'listen', kind: 'string' },
  VOIP_PORTAL_DB: { key: 'db', kind: 'string' },
  VOIP_PORTAL_PROXY_ADMIN: { key: 'proxyAdminUrl', kind: 'string' },
  VOIP_PORTAL_VOICEMAIL: { key: 'voicemailUrl', kind: 'string' },
  VOIP_PORTAL_PUBLIC_URL: { key: 'publicUrl', kind: 'string' },
  VOIP_PORTAL_LOG_LEVEL: { key: 'logLevel', kind: 'string' },
};

/** Values from the environment (the caller passes process.env). */
export function configFromEnv(env: Readonly<Record<string, string | undefined>>): PortalConfigInput {
  const out = configFromEnvTable(ENV, env) as Record<string, unknown>;
  if (env.VOIP_PORTAL_ADMIN_USER || env.VOIP_PORTAL_ADMIN_PASSWORD) out.admin = { user: env.VOIP_PORTAL_ADMIN_USER || undefined, password: env.VOIP_PORTAL_ADMIN_PASSWORD || undefined };
  const smtp: Record<string, unknown> = {};
  if (env.VOIP_PORTAL_SMTP_HOST) smtp.host = env.VOIP_PORTAL_SMTP_HOST;
  if (env.VOIP_PORTAL_SMTP_PORT) smtp.port = Number(env.VOIP_PORTAL_SMTP_PORT);
  if (env.VOIP_PORTAL_SMTP_FROM) smtp.from = env.VOIP_PORTAL_SMTP_FROM;
  if (Object.keys(smtp).length > 0) out.smtp = smtp;
  if (env.VOIP_PORTAL_INSECURE_COOKIE === '1') out.session = { secureCookie: false };
  return out as PortalConfigInput;
}

export function configFromFile(path: string): PortalConfigInput {
  return readConfigMapping(path, (reason) => new PortalError('PORTAL_ERR_CONFIG', reason)) as PortalConfigInput;
}

/** Merges layers (later wins; nested objects merge key by key), validates and freezes. */
export function loadConfig(...layers: Partial<PortalConfigInput>[]): PortalConfig {
  const merged: Record<string, unknown> = {};
  for (const l of layers) {
    for (const [k, v] of Object.entries(l)) {
      if (v === undefined) continue;
      const prev = merged[k];
      merged[k] =
        prev !== null && typeof prev === 'object' && !Array.isArray(prev) && v !== null && typeof v === 'object' && !Array.isArray(v) ? { ...prev, ...v } : v;
    }
  }
  const r = PortalConfigSchema.safeParse(merged);
  if (!r.success) throw new PortalError('PORTAL_ERR_CONFIG', r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '));
  return deepFreeze(r.data);
}
