/**
 * Proxy configuration: one typed file (YAML or JSON) plus environment overrides, validated
 * once by a strict zod schema with defaults and bounds, then frozen (STYLE.md §9).
 * Modules never read process.env; they get their slice of this object at init.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

const LISTEN_RE = /^(udp|tcp):(\[[0-9a-fA-F:.]{2,45}\]|[0-9.]{7,15}|[A-Za-z0-9.-]{1,253}):(\d{1,5})$/;

/** `udp:IP:PORT` / `tcp:[::1]:5060` as given on the command line (the book's `listen=`). */
export const ListenSchema = z
  .string()
  .regex(LISTEN_RE, 'listen address must look like udp:IP:PORT or tcp:IP:PORT (IPv6 in brackets)')
  .transform((s) => {
    const m = LISTEN_RE.exec(s)!;
    return {
      protocol: m[1]!.toUpperCase() as 'UDP' | 'TCP',
      address: m[2]!.replace(/^\[|\]$/g, ''),
      port: Number(m[3]),
    };
  })
  .refine((l) => l.port >= 0 && l.port <= 65535, 'port out of range');

export type ListenAddress = z.output<typeof ListenSchema>;

const TimersSchema = z
  .object({
    /** RFC 3261 §17.1.1.1: RTT estimate, default 500 ms. */
    t1: z.number().int().min(10).max(10_000).default(500),
    /** Maximum retransmit interval for non-INVITE requests and INVITE responses. */
    t2: z.number().int().min(100).max(60_000).default(4_000),
    /** Maximum time a message remains in the network. */
    t4: z.number().int().min(100).max(60_000).default(5_000),
    /** RFC 3261 §16.6 step 11: Timer C, which must be greater than 3 minutes. */
    timerC: z.number().int().min(180_001).max(3_600_000).default(181_000),
  })
  .strict();

const RegistrarSchema = z
  .object({
    /** RFC 3261 §10.3 step 7: shorter requests are answered 423 with Min-Expires. */
    minExpires: z.number().int().min(0).max(86_400).default(60),
    maxExpires: z.number().int().min(1).max(31_536_000).default(3_600),
    /** Used when neither the Contact expires parameter nor an Expires header is present. */
    defaultExpires: z.number().int().min(1).max(31_536_000).default(3_600),
    /** 0 = unlimited; more contacts than this for one AOR is answered 403. */
    maxContacts: z.number().int().min(0).max(1_000).default(0),
  })
  .strict();

/** Chapter 5: the database (subscribers, location, aliases, domains). Absent = chapter 4. */
const DbSchema = z
  .object({
    /** mysql://USER:PASS@HOST:PORT/DB, file:subscribers.yaml or memory: (see storage/db-url.ts). */
    url: z.string().min(1).max(1_000).optional(),
    /** Start-up connection attempts (exponential back-off) before giving up. */
    connectAttempts: z.number().int().min(1).max(100).default(10),
  })
  .strict();

const AuthSchema = z
  .object({
    /**
     * HMAC key of the nonces. Every proxy process that must accept the others' nonces (workers,
     * a restarted proxy) needs the same one; absent = random per process (phones re-authenticate
     * after a restart, answered stale=true).
     */
    nonceSecret: z.string().min(16).max(256).optional(),
    /** Nonce lifetime in seconds (Kamailio's nonce_expire). */
    nonceExpires: z.number().int().min(10).max(3_600).default(300),
    /** Offered digest algorithms, most preferred first (RFC 8760 §2.4). */
    algorithms: z.array(z.enum(['SHA-256', 'MD5', 'SHA-512-256'])).min(1).default(['SHA-256', 'MD5']),
    /** Accept RFC 2069-style responses without qop (no nonce-count replay protection for them). */
    allowNoQop: z.boolean().default(true),
  })
  .strict();

const UsrlocSchema = z
  .object({
    /** usrloc db_mode: memory (0), write-through (1), write-back (2), db-only (3). */
    dbMode: z.enum(['memory', 'write-through', 'write-back', 'db-only']).default('write-through'),
    /** write-back: how often changed bindings are written (ms). */
    flushInterval: z.number().int().min(100).max(3_600_000).default(10_000),
    /** How often expired rows are deleted from the table (ms). */
    cleanupInterval: z.number().int().min(1_000).max(86_400_000).default(60_000),
    /** location.server_id of the rows this proxy writes. */
    serverId: z.number().int().min(0).max(2_147_483_647).default(0),
  })
  .strict();

export const ProxyConfigSchema = z
  .object({
    listen: z.array(ListenSchema).min(1).prefault(['udp:127.0.0.1:5060', 'tcp:127.0.0.1:5060']),
    /**
     * Host names / addresses that `uri==myself` matches besides the listen addresses
     * (the book's `alias=` lines). Empty = the listen addresses only.
     */
    domains: z.array(z.string().min(1).max(253)).default([]),
    /**
     * Address written into Via and Record-Route when listening on a wildcard address
     * (0.0.0.0 / ::) or behind a static NAT (the book's `advertised_address`).
     */
    advertisedAddress: z.string().min(1).max(253).optional(),
    /** The book's `msg:len >= N` check: larger messages are answered 513. */
    maxMessageSize: z.number().int().min(1_024).max(65_535).default(16_384),
    /**
     * Proxy worker threads ("use both cores"). 1 = one event loop does everything; N > 1 = the
     * main thread reads the sockets and steers each call to one of N workers (cluster/).
     */
    workers: z.number().int().min(1).max(64).default(1),
    /** Kernel receive buffer for UDP sockets; bursts above a few thousand calls/s need MBs. */
    udpReceiveBufferSize: z.number().int().min(65_536).max(64 * 1024 * 1024).default(4 * 1024 * 1024),
    timers: TimersSchema.prefault({}),
    registrar: RegistrarSchema.prefault({}),
    /**
     * `stateful` relays with transactions (t_relay); `stateless` forwards like the book's
     * `forward()`: no retransmission handling, no failure route, no forking.
     */
    relayMode: z.enum(['stateful', 'stateless']).default('stateful'),
    /** Adds the book's `P-hint:` tracing headers (rr-enforced, outbound, usrloc applied). */
    tracingHints: z.boolean().default(false),
    /** Product token in Server / User-Agent headers of messages we generate. */
    serverHeader: z.string().max(128).default('voip-stack sip-proxy'),
    accounting: z
      .object({
        /**
         * Append-only journal of call records (the embedded default; `radius-acct --journal`
         * reads it). Unset: no accounting unless a database is configured.
         */
        journal: z.string().min(1).max(4096).optional(),
        /** fdatasync each batch; only benchmarks turn it off. */
        fsync: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    admin: z
      .object({
        /** host:port of the admin HTTP API (health, metrics, location); empty disables it. */
        listen: z.string().max(300).default('127.0.0.1:0'),
      })
      .strict()
      .prefault({}),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    db: DbSchema.default({ connectAttempts: 10 }),
    auth: AuthSchema.default({ nonceExpires: 300, algorithms: ['SHA-256', 'MD5'], allowNoQop: true }),
    usrloc: UsrlocSchema.default({ dbMode: 'write-through', flushInterval: 10_000, cleanupInterval: 60_000, serverId: 0 }),
    aliases: z.object({ appendBranches: z.boolean().default(false) }).strict().default({ appendBranches: false }),
    /** domain table reload period (ms); 0 = only at start and on POST /domain/reload. */
    domainReloadInterval: z.number().int().min(0).max(86_400_000).default(10_000),
  })
  .strict();

export type ProxyConfig = Readonly<z.output<typeof ProxyConfigSchema>>;

/** Thrown with every validation problem listed, one per line, path first. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

/** Environment overrides: SIP_PROXY_<KEY> for top-level scalars, SIP_PROXY_LISTEN comma-separated. */
export function envOverrides(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (env.SIP_PROXY_LISTEN) out.listen = env.SIP_PROXY_LISTEN.split(',').map((s) => s.trim()).filter(Boolean);
  if (env.SIP_PROXY_DOMAINS) out.domains = env.SIP_PROXY_DOMAINS.split(',').map((s) => s.trim()).filter(Boolean);
  if (env.SIP_PROXY_ADVERTISED_ADDRESS) out.advertisedAddress = env.SIP_PROXY_ADVERTISED_ADDRESS;
  if (env.SIP_PROXY_LOG_LEVEL) out.logLevel = env.SIP_PROXY_LOG_LEVEL;
  if (env.SIP_PROXY_ADMIN_LISTEN) out.admin = { listen: env.SIP_PROXY_ADMIN_LISTEN };
  if (env.SIP_PROXY_RELAY_MODE) out.relayMode = env.SIP_PROXY_RELAY_MODE;
  if (env.SIP_PROXY_WORKERS) out.workers = Number(env.SIP_PROXY_WORKERS);
  if (env.SIP_DB_URL) out.db = { url: env.SIP_DB_URL };
  if (env.SIP_PROXY_AUTH_SECRET) out.auth = { nonceSecret: env.SIP_PROXY_AUTH_SECRET };
  if (env.SIP_PROXY_USRLOC_DB_MODE) out.usrloc = { dbMode: env.SIP_PROXY_USRLOC_DB_MODE };
  if (env.SIP_PROXY_ACC_JOURNAL) out.accounting = { journal: env.SIP_PROXY_ACC_JOURNAL };
  return out;
}

export interface LoadConfigOptions {
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Command-line values; they win over the file and the environment. */
  cli?: Record<string, unknown>;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Overrides win key by key inside sections (SIP_PROXY_AUTH_SECRET must not drop auth.algorithms of the file). */
function mergeSections(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isPlainObject(b) && isPlainObject(v) ? { ...b, ...v } : v;
  }
  return out;
}

/** Reads the file (YAML or JSON), applies env then CLI overrides, validates, freezes. */
export function loadConfig(opts: LoadConfigOptions = {}): ProxyConfig {
  let raw: Record<string, unknown> = {};
  if (opts.file) {
    let text: string;
    try {
      text = readFileSync(opts.file, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read config file ${opts.file}: ${(err as Error).message}`);
    }
    try {
      const parsed: unknown = parseYaml(text);
      if (parsed != null && (typeof parsed !== 'object' || Array.isArray(parsed))) {
        throw new Error('top level must be a mapping');
      }
      raw = (parsed ?? {}) as Record<string, unknown>;
    } catch (err) {
      throw new ConfigError(`config file ${opts.file} is not valid YAML/JSON: ${(err as Error).message}`);
    }
  }
  const merged = mergeSections(mergeSections(raw, envOverrides(opts.env ?? {})), opts.cli ?? {});
  return parseConfig(merged, opts.file ?? '(defaults)');
}

export function parseConfig(input: unknown, origin = '(inline)'): ProxyConfig {
  const result = ProxyConfigSchema.safeParse(input);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ConfigError(`invalid configuration in ${origin}:\n${lines.join('\n')}`);
  }
  return deepFreeze(result.data);
}
