/**
 * radius-acct configuration: a strict zod schema with defaults and bounds, parsed once from
 * (lowest to highest precedence) a YAML/JSON file, RADIUS_ACCT_* environment variables and
 * the command line, then frozen (STYLE.md, Config).
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { RadiusAcctError } from './errors.js';

const hostPort = z
  .string()
  .max(300)
  .transform((s, ctx) => {
    // host:port, [v6]:port
    const m = /^\[([0-9a-fA-F:.]{2,64})\]:(\d{1,5})$/.exec(s) ?? /^([A-Za-z0-9.-]{1,253}):(\d{1,5})$/.exec(s);
    const port = m === null ? NaN : Number(m[2]);
    if (m === null || port < 1 || port > 65535) {
      ctx.addIssue({ code: 'custom', message: `expected HOST:PORT, got "${s}"` });
      return z.NEVER;
    }
    return { host: m[1], port };
  });

export const configSchema = z
  .object({
    /** mysql://user:pass@host/db — read Kamailio-schema acc/missed_calls. */
    db: z.string().startsWith('mysql://').optional(),
    /** Journal file written by the proxy's JournalAccountingSink. */
    journal: z.string().min(1).optional(),
    /** RADIUS accounting servers in failover order (primary first). */
    radius: z.array(hostPort).min(1).max(8),
    secret: z.string().min(1).max(128),
    /** Where progress.json and parked.ndjson live. */
    stateDir: z.string().min(1).default('/var/lib/radius-acct'),
    nasIdentifier: z.string().min(1).max(253).default('voip-proxy'),
    nasIpAddress: z.ipv4().optional(),
    window: z.number().int().min(1).max(100).default(32),
    retransmitMs: z.number().int().min(10).max(60_000).default(1000),
    maxRetransmitMs: z.number().int().min(10).max(300_000).default(8000),
    triesPerServer: z.number().int().min(1).max(20).default(3),
    maxAttempts: z.number().int().min(1).max(1000).default(20),
    deadTimeMs: z.number().int().min(0).max(3_600_000).default(30_000),
    pollMs: z.number().int().min(10).max(60_000).default(200),
    /** Gap grace for MySQL ids (see MysqlReader). */
    gapGraceMs: z.number().int().min(0).max(600_000).default(5000),
    /** HOST:PORT for /health and /metrics; off when absent. */
    http: hostPort.optional(),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
    drainMs: z.number().int().min(0).max(60_000).default(3000),
  })
  .strict()
  .refine((c) => (c.db === undefined) !== (c.journal === undefined), { message: 'give exactly one of --db or --journal' })
  .refine((c) => c.maxRetransmitMs >= c.retransmitMs, { message: 'maxRetransmitMs must be >= retransmitMs' });

export type RadiusAcctConfig = Readonly<z.output<typeof configSchema>>;

/** Raw (string) values as they come from CLI flags or the environment. */
export interface RawOptions {
  config?: string;
  db?: string;
  journal?: string;
  radius?: string[];
  secret?: string;
  stateDir?: string;
  nasIdentifier?: string;
  nasIp?: string;
  window?: string;
  retransmitMs?: string;
  maxRetransmitMs?: string;
  triesPerServer?: string;
  maxAttempts?: string;
  deadTimeMs?: string;
  http?: string;
  logLevel?: string;
}

const NUMERIC: (keyof RawOptions)[] = ['window', 'retransmitMs', 'maxRetransmitMs', 'triesPerServer', 'maxAttempts', 'deadTimeMs'];

function num(v: string | undefined): number | string | undefined {
  if (v === undefined) return undefined;
  return /^\d{1,9}$/.test(v) ? Number(v) : v;
}

/** Environment variables read (no process.env anywhere else). */
export function optionsFromEnv(env: NodeJS.ProcessEnv): RawOptions {
  const o: RawOptions = {};
  if (env.RADIUS_ACCT_CONFIG) o.config = env.RADIUS_ACCT_CONFIG;
  if (env.RADIUS_ACCT_DB) o.db = env.RADIUS_ACCT_DB;
  if (env.RADIUS_ACCT_JOURNAL) o.journal = env.RADIUS_ACCT_JOURNAL;
  if (env.RADIUS_ACCT_SERVERS) o.radius = env.RADIUS_ACCT_SERVERS.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (env.RADIUS_ACCT_SECRET) o.secret = env.RADIUS_ACCT_SECRET;
  if (env.RADIUS_ACCT_STATE_DIR) o.stateDir = env.RADIUS_ACCT_STATE_DIR;
  if (env.RADIUS_ACCT_HTTP) o.http = env.RADIUS_ACCT_HTTP;
  if (env.RADIUS_ACCT_LOG_LEVEL) o.logLevel = env.RADIUS_ACCT_LOG_LEVEL;
  return o;
}

/** Merges file < env < CLI and validates. Throws RADIUS_ACCT_ERR_CONFIG with every problem. */
export function loadConfig(cli: RawOptions, env: NodeJS.ProcessEnv): RadiusAcctConfig {
  const fromEnv = optionsFromEnv(env);
  const file = cli.config ?? fromEnv.config;
  let base: Record<string, unknown> = {};
  if (file !== undefined) {
    try {
      const parsed: unknown = parseYaml(readFileSync(file, 'utf8'));
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) base = parsed as Record<string, unknown>;
      else throw new Error('top level is not a mapping');
    } catch (err) {
      throw new RadiusAcctError('RADIUS_ACCT_ERR_CONFIG', `${file}: ${(err as Error).message}`);
    }
  }
  const merged: Record<string, unknown> = { ...base };
  for (const layer of [fromEnv, cli]) {
    for (const [k, v] of Object.entries(layer)) {
      if (k === 'config' || k === 'checkConfig' || v === undefined) continue;
      if (k === 'nasIp') merged.nasIpAddress = v;
      else merged[k] = NUMERIC.includes(k as keyof RawOptions) ? num(v as string) : v;
    }
  }
  const res = configSchema.safeParse(merged);
  if (!res.success) {
    const msg = res.error.issues.map((i) => `${i.path.join('.') || '(config)'}: ${i.message}`).join('; ');
    throw new RadiusAcctError('RADIUS_ACCT_ERR_CONFIG', msg);
  }
  return Object.freeze({ ...res.data, radius: Object.freeze(res.data.radius.map((s) => Object.freeze(s))) }) as RadiusAcctConfig;
}
