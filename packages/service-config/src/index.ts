/**
 * The plumbing every service's config.ts shares (STYLE.md §9: file + environment, validated
 * once, frozen). Each service keeps its own zod schema, environment names and coded errors; this
 * package only reads and shapes the raw layers.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

/** Freezes a parsed configuration and everything in it. */
export function deepFreeze<T>(o: T): T {
  if (o !== null && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/** How one environment variable maps onto a top-level config key. */
export interface EnvBinding<K extends string> {
  readonly key: K;
  /** int: Number(value); list: comma-separated, trimmed; string: as is. */
  readonly kind: 'string' | 'int' | 'list';
}

/** The config keys set by the environment (the caller passes process.env); empty values are unset. */
export function configFromEnvTable<K extends string>(
  table: Readonly<Record<string, EnvBinding<K>>>,
  env: Readonly<Record<string, string | undefined>>,
): Partial<Record<K, unknown>> {
  const out: Partial<Record<K, unknown>> = {};
  for (const [name, { key, kind }] of Object.entries(table)) {
    const v = env[name];
    if (v === undefined || v === '') continue;
    out[key] = kind === 'int' ? Number(v) : kind === 'list' ? v.split(',').map((x) => x.trim()) : v;
  }
  return out;
}

/**
 * Reads a YAML or JSON config file whose top level is a mapping (an empty file is an empty
 * mapping). `fail` builds the service's own coded error from a one-line reason.
 */
export function readConfigMapping(path: string, fail: (reason: string) => Error): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw fail(`cannot read config file ${path}: ${(e as Error).message}`);
  }
  const v: unknown = parseYaml(text);
  if (v === null || v === undefined) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw fail(`${path}: top level must be a mapping`);
  return v as Record<string, unknown>;
}
