/**
 * dialplan module: which numbers are PSTN numbers, which ACL group each class needs and how it
 * is normalised to E.164 — as data, not code. The book hard-codes its North-American plan in
 * route[10] (`uri=~"^sip:[2-9][0-9]{6}@"` → is_user_in "local" → prefix("+1") …); here the same
 * plan is the default `dialplan.rules` of the configuration, and rows of Kamailio's `dialplan`
 * table (dpid from config; match_op 0 = equal, 1 = regex; subst_exp/repl_exp rewrite the number;
 * attrs `group=<acl group>`) come first when present.
 *
 * Rules are compiled once at load (STYLE.md §5) and reloaded on demand (POST /dialplan/reload)
 * and periodically; patterns are anchored and screened, numbers length-capped (untrusted input).
 */
import { TableReloader } from '../../util/table-reloader.js';
import type { Logger } from '@voip/sip';
import type { DialPlanApi, DialPlanMatch } from '../../routing/provider-modules-api.js';
import type { DialplanRepository, DialplanRow } from '@voip/storage';
import { compileSafeRegex, safeTest } from '@voip/storage';

export const name = 'dialplan';

/** A rule in the configuration: the book's strip/prefix form. */
export interface DialPlanRuleConfig {
  /** Regular expression on the dialled user part; anchored to the whole number. */
  match: string;
  /** The ACL group (grp) the caller must be in. */
  group: string;
  /** Leading digits removed (the book's strip()). */
  strip: number;
  /** Prepended after stripping (the book's prefix()). */
  prefix: string;
  /** 403 reason when the caller is not in the group; default from `denyReasons`. */
  denyReason?: string | undefined;
}

export interface DialPlanSettings {
  /** Kamailio dialplan id whose `dialplan` rows are used. */
  dpid: number;
  rules: readonly DialPlanRuleConfig[];
  /** 403 reason phrase per group (the book's "No permissions for local calls" …). */
  denyReasons: Readonly<Record<string, string>>;
  /** Periodic reload of the table (ms); 0 = start-up and reload only. */
  reloadIntervalMs: number;
}

/** Longest dialled number looked at; longer ones are no PSTN number (E.164 has 15 digits). */
const MAX_NUMBER_LENGTH = 64;
const DEFAULT_DENY_REASON = 'Forbidden';

interface CompiledRule {
  readonly match: RegExp | string;
  readonly matchLen: number;
  readonly group: string;
  readonly denyReason: string | null;
  /** strip/prefix (config) or subst/repl (table). */
  readonly rewrite: { strip: number; prefix: string } | { subst: RegExp; repl: string };
}

/** Kamailio's repl_exp writes back-references as \1; JavaScript's replace wants $1 (and $$ for $). */
export function kamailioReplacement(repl: string): string {
  return repl.replace(/\$/g, '$$$$').replace(/\\(\d)/g, '$$$1');
}

/** `group=ld;x=y` → ld (the attrs column is free text in Kamailio; we keep the ACL group there). */
export function groupOfAttrs(attrs: string): string | null {
  for (const part of attrs.split(/[;,\s]+/)) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === 'group') {
      const v = part.slice(eq + 1).trim();
      return v === '' ? null : v;
    }
  }
  return null;
}

export class DialPlanModule implements DialPlanApi {
  private rules: readonly CompiledRule[] = [];
  private readonly configRules: readonly CompiledRule[];
  private readonly log: Logger;
  private readonly reloader: TableReloader;

  constructor(
    private readonly s: DialPlanSettings,
    private readonly repo: DialplanRepository | null,
    logger: Logger,
  ) {
    this.log = logger.child({ layer: 'proxy.dialplan' });
    // Without a dialplan table the configured rules never change: nothing to re-read.
    this.reloader = new TableReloader(() => this.load(), repo === null ? 0 : s.reloadIntervalMs, this.log, 'dialplan');
    const compiled: CompiledRule[] = [];
    for (const r of s.rules) {
      const re = compileSafeRegex(r.match, { anchor: true });
      // Configuration is validated at start: a bad rule there is an operator error, not data.
      if (!re.ok) throw new Error(`dialplan.rules: pattern ${r.match}: ${re.reason}`);
      compiled.push({ match: re.re, matchLen: 0, group: r.group, denyReason: r.denyReason ?? null, rewrite: { strip: r.strip, prefix: r.prefix } });
    }
    this.configRules = compiled;
    this.rules = compiled;
  }

  async start(): Promise<void> {
    await this.reloader.start();
  }

  stop(): void {
    this.reloader.stop();
  }

  /** Re-reads the table; the number of rules in force, or -1 when the database failed. */
  reload(): Promise<number> {
    return this.reloader.reload();
  }

  private async load(): Promise<number> {
    const rows = this.repo === null ? [] : await this.repo.list(this.s.dpid);
    const table: CompiledRule[] = [];
    for (const row of [...rows].sort((a, b) => a.pr - b.pr || a.id - b.id)) {
      const c = this.compileRow(row);
      if (c !== null) table.push(c);
    }
    this.rules = [...table, ...this.configRules];
    this.log.info({ table: table.length, config: this.configRules.length }, 'dial plan loaded');
    return this.rules.length;
  }

  private compileRow(row: DialplanRow): CompiledRule | null {
    const group = groupOfAttrs(row.attrs);
    if (group === null) {
      this.log.warn({ id: row.id }, 'dialplan row skipped: attrs has no group=<acl group>');
      return null;
    }
    let match: RegExp | string;
    if (row.matchOp === 0) match = row.matchExp;
    else if (row.matchOp === 1) {
      const re = compileSafeRegex(row.matchExp, { anchor: true });
      if (!re.ok) {
        this.log.warn({ id: row.id, reason: re.reason }, 'dialplan row skipped: unusable match_exp');
        return null;
      }
      match = re.re;
    } else {
      this.log.warn({ id: row.id, matchOp: row.matchOp }, 'dialplan row skipped: only match_op 0 (equal) and 1 (regex) are supported');
      return null;
    }
    let rewrite: CompiledRule['rewrite'] = { strip: 0, prefix: '' };
    if (row.substExp !== '') {
      const subst = compileSafeRegex(row.substExp);
      if (!subst.ok) {
        this.log.warn({ id: row.id, reason: subst.reason }, 'dialplan row skipped: unusable subst_exp');
        return null;
      }
      rewrite = { subst: subst.re, repl: kamailioReplacement(row.replExp) };
    } else if (row.replExp !== '') {
      // Kamailio: without subst_exp the whole number is replaced by repl_exp.
      rewrite = { subst: /^.*$/, repl: kamailioReplacement(row.replExp) };
    }
    return { match, matchLen: row.matchLen, group, denyReason: null, rewrite };
  }

  match(user: string): DialPlanMatch | null {
    if (user.length === 0 || user.length > MAX_NUMBER_LENGTH) return null;
    for (const r of this.rules) {
      if (r.matchLen > 0 && user.length !== r.matchLen) continue;
      if (typeof r.match === 'string' ? r.match !== user : !safeTest(r.match, user)) continue;
      const normalised = 'strip' in r.rewrite ? r.rewrite.prefix + user.slice(r.rewrite.strip) : user.replace(r.rewrite.subst, r.rewrite.repl);
      return { group: r.group, normalised, denyReason: r.denyReason ?? this.s.denyReasons[r.group] ?? DEFAULT_DENY_REASON };
    }
    return null;
  }

  get size(): number {
    return this.rules.length;
  }
}

export async function init(deps: { settings: DialPlanSettings; dialplan: DialplanRepository | null; logger: Logger }): Promise<DialPlanModule> {
  const m = new DialPlanModule(deps.settings, deps.dialplan, deps.logger);
  await m.start();
  return m;
}
