/**
 * avpops module, the part the book's call forwarding uses (ch. 7 "Implementing Blind Call
 * Forwarding", ch. 8 route[3]): `avp_db_load("$ru/username", "s:callfwd")` from
 * `usr_preferences`, plus the on-busy and on-no-answer attributes of the forwarding lab:
 * `fwdbusy`, `fwdnoanswer` and `fwdnoanswer_timeout` (seconds).
 *
 * Preferences are read per call, as the book does, through a short-TTL cache; `flush()`
 * (POST /preferences/reload, called by sipctl after `avp add|rm`) drops it at once. Allowed in
 * request and failure routes.
 */
import type { Logger } from '@voip/sip';
import type { Account, CallForwardApi, CallForwardPreferences } from '../../routing/provider-modules-api.js';
import { MAX_NOANSWER_SECONDS, type PreferenceRepository, type PreferenceRow } from '@voip/storage';

export const name = 'avpops';

export interface CallForwardSettings {
  /** How long an account's preferences are reused (ms); 0 = query every call. */
  cacheTtlMs: number;
  cacheSize: number;
  /** No-answer timeout (ms) for users with a fwdnoanswer target (or voicemail) but no own timeout. */
  noAnswerTimeoutMs: number;
  /** Forwards followed before the call is refused as a loop (482). */
  maxChain: number;
}

const NONE: CallForwardPreferences = { callfwd: null, fwdbusy: null, fwdnoanswer: null, fwdnoanswerTimeout: null };

interface Cached {
  readonly prefs: CallForwardPreferences;
  readonly until: number;
}

/** The forwarding attributes among an account's usr_preferences rows (last row of a name wins). */
export function forwardingPreferences(rows: readonly PreferenceRow[]): CallForwardPreferences {
  let callfwd: string | null = null;
  let fwdbusy: string | null = null;
  let fwdnoanswer: string | null = null;
  let fwdnoanswerTimeout: number | null = null;
  for (const r of rows) {
    const v = r.value.trim();
    switch (r.attribute) {
      case 'callfwd':
        callfwd = v === '' ? null : v;
        break;
      case 'fwdbusy':
        fwdbusy = v === '' ? null : v;
        break;
      case 'fwdnoanswer':
        fwdnoanswer = v === '' ? null : v;
        break;
      case 'fwdnoanswer_timeout': {
        const n = Number(v);
        fwdnoanswerTimeout = Number.isInteger(n) && n > 0 && n <= MAX_NOANSWER_SECONDS ? n : null;
        break;
      }
    }
  }
  return { callfwd, fwdbusy, fwdnoanswer, fwdnoanswerTimeout };
}

export class CallForwardModule implements CallForwardApi {
  private readonly cache = new Map<string, Cached>();
  private readonly log: Logger;

  constructor(
    private readonly s: CallForwardSettings,
    private readonly repo: PreferenceRepository,
    logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.log = logger.child({ layer: 'proxy.avpops' });
  }

  get noAnswerTimeout(): number {
    return this.s.noAnswerTimeoutMs;
  }

  get maxChain(): number {
    return this.s.maxChain;
  }

  async preferences(account: Account): Promise<CallForwardPreferences> {
    const key = `${account.username}\u0000${account.domain.toLowerCase()}`;
    const t = this.now();
    const hit = this.cache.get(key);
    if (hit !== undefined && hit.until > t) return hit.prefs;
    const rows = await this.repo.list({ username: account.username, domain: account.domain });
    const prefs = rows.length === 0 ? NONE : forwardingPreferences(rows);
    if (this.s.cacheTtlMs > 0) {
      if (this.cache.size >= this.s.cacheSize) this.cache.clear();
      this.cache.set(key, { prefs, until: t + this.s.cacheTtlMs });
    }
    if (prefs !== NONE) this.log.debug({ account: `${account.username}@${account.domain}`, prefs }, 'forwarding preferences loaded');
    return prefs;
  }

  /** Drops every cached account (POST /preferences/reload). The number dropped. */
  flush(): number {
    const n = this.cache.size;
    this.cache.clear();
    return n;
  }
}

export function init(deps: { settings: CallForwardSettings; preferences: PreferenceRepository; logger: Logger }): CallForwardModule {
  return new CallForwardModule(deps.settings, deps.preferences, deps.logger);
}
