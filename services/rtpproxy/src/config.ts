/**
 * rtp-relay configuration: an optional YAML/JSON file, then RTP_RELAY_* environment
 * variables, then command-line options, validated once by a strict zod schema with
 * defaults and bounds and frozen (STYLE.md §9). Nothing else reads process.env.
 */
import { availableParallelism } from 'node:os';
import { isIP } from 'node:net';
import { configFromEnvTable, deepFreeze, readConfigMapping, type EnvBinding } from '@voip/service-config';
import { z } from 'zod';

const HOSTPORT_RE = /^(\[[0-9a-fA-F:.]{2,45}\]|[0-9.]{7,15}):(\d{1,5})$/;

function parseHostPort(s: string): { address: string; port: number } | null {
  const m = HOSTPORT_RE.exec(s);
  if (m === null) return null;
  const address = m[1].replace(/^\[|\]$/g, '');
  const port = Number(m[2]);
  if (isIP(address) === 0 || port > 65535) return null;
  return { address, port };
}

/** `udp:IP:PORT` (IPv6 in brackets): where the ng control socket listens. */
export const NgListenSchema = z
  .string()
  .max(64)
  .transform((s, ctx) => {
    const hp = s.startsWith('udp:') ? parseHostPort(s.slice(4)) : null;
    if (hp === null) {
      ctx.addIssue({ code: 'custom', message: 'ng listen address must look like udp:IP:PORT (IPv6 in brackets)' });
      return z.NEVER;
    }
    return hp;
  });

/** `IP:PORT` for the HTTP health/metrics endpoint. */
export const HttpListenSchema = z
  .string()
  .max(64)
  .transform((s, ctx) => {
    const hp = parseHostPort(s);
    if (hp === null) {
      ctx.addIssue({ code: 'custom', message: 'HTTP listen address must look like IP:PORT (IPv6 in brackets)' });
      return z.NEVER;
    }
    return hp;
  });

/**
 * A media interface in rtpengine's notation: `[NAME/]IP[!ADVERTISED]`. NAME is what ng's
 * "direction" refers to (default "default"); ADVERTISED is written into SDP instead of IP
 * when the relay itself is behind a 1:1 NAT.
 */
export const MediaIpSchema = z
  .string()
  .max(128)
  .transform((s, ctx) => {
    const slash = s.indexOf('/');
    const name = slash < 0 ? 'default' : s.slice(0, slash);
    const rest = slash < 0 ? s : s.slice(slash + 1);
    const bang = rest.indexOf('!');
    const ip = bang < 0 ? rest : rest.slice(0, bang);
    const advertised = bang < 0 ? ip : rest.slice(bang + 1);
    const family = isIP(ip);
    if (!/^[A-Za-z0-9_.-]{1,32}$/.test(name) || family === 0 || isIP(advertised) !== family) {
      ctx.addIssue({ code: 'custom', message: `media address "${s}" must look like [NAME/]IP[!ADVERTISED-IP]` });
      return z.NEVER;
    }
    return { name, ip, advertised, family: family as 4 | 6 };
  });

/** `MIN-MAX` media port range. */
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
    return { min, max };
  });

export const RelayConfigSchema = z
  .object({
    ng: NgListenSchema.prefault('udp:127.0.0.1:22222'),
    mediaIp: z.array(MediaIpSchema).min(1).prefault(['127.0.0.1']),
    ports: PortRangeSchema.prefault('30000-40000'),
    /** Seconds without media and signalling before a call is torn down (rtpengine: --timeout). */
    timeout: z.number().int().min(1).max(86_400).default(60),
    /** Hard cap on concurrent calls; further offers get "Parallel session limit reached". */
    maxSessions: z.number().int().min(1).max(1_000_000).default(10_000),
    /** Media worker threads, each owning a slice of the port range. Default: one per core. */
    workers: z.number().int().min(1).max(64).default(Math.max(1, availableParallelism())),
    /** Kernel receive buffer per media socket (0 = system default). */
    recvBufferSize: z.number().int().min(0).max(64 * 1024 * 1024).default(0),
    /** How long an ng reply is kept to answer a retransmitted request with the same cookie. */
    replyCacheSeconds: z.number().int().min(1).max(600).default(30),
    /** `IP:PORT` of /health and /metrics, or "off". */
    http: z.union([z.literal('off'), HttpListenSchema]).prefault('127.0.0.1:9900'),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .strict()
  .superRefine((c, ctx) => {
    const names = new Set<string>();
    for (const m of c.mediaIp) {
      const key = `${m.name}/${m.family}`;
      if (names.has(key)) ctx.addIssue({ code: 'custom', path: ['mediaIp'], message: `two IPv${m.family} addresses for interface ${m.name}` });
      names.add(key);
    }
    const pairs = Math.floor((c.ports.max - c.ports.min - 1) / 2);
    if (pairs < c.workers) ctx.addIssue({ code: 'custom', path: ['ports'], message: `${pairs} port pairs cannot be split over ${c.workers} workers` });
  });

export type RelayConfigInput = z.input<typeof RelayConfigSchema>;
export type RelayConfig = Readonly<z.output<typeof RelayConfigSchema>>;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RTP_ERR_CONFIG';
  }
}

const ENV: Record<string, EnvBinding<keyof RelayConfigInput>> = {
  RTP_RELAY_NG: { key: 'ng', kind: 'string' },
  RTP_RELAY_MEDIA_IP: { key: 'mediaIp', kind: 'list' },
  RTP_RELAY_PORTS: { key: 'ports', kind: 'string' },
  RTP_RELAY_TIMEOUT: { key: 'timeout', kind: 'int' },
  RTP_RELAY_MAX_SESSIONS: { key: 'maxSessions', kind: 'int' },
  RTP_RELAY_WORKERS: { key: 'workers', kind: 'int' },
  RTP_RELAY_RECV_BUFFER: { key: 'recvBufferSize', kind: 'int' },
  RTP_RELAY_HTTP: { key: 'http', kind: 'string' },
  RTP_RELAY_LOG_LEVEL: { key: 'logLevel', kind: 'string' },
};

/** Values from the environment (the caller passes process.env). */
export function configFromEnv(env: Readonly<Record<string, string | undefined>>): RelayConfigInput {
  return configFromEnvTable(ENV, env) as RelayConfigInput;
}

export function configFromFile(path: string): RelayConfigInput {
  return readConfigMapping(path, (reason) => new ConfigError(reason)) as RelayConfigInput;
}

/** Merges layers (later wins), validates and freezes. */
export function loadConfig(...layers: RelayConfigInput[]): RelayConfig {
  const merged: Record<string, unknown> = {};
  for (const l of layers) for (const [k, v] of Object.entries(l)) if (v !== undefined) merged[k] = v;
  const r = RelayConfigSchema.safeParse(merged);
  if (!r.success) {
    throw new ConfigError(r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '));
  }
  return deepFreeze(r.data);
}
