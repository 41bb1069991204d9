/**
 * domain module: the SIP domains this proxy serves come from the `domain` table (plus the
 * configured `domains`), cached in memory — is_uri_host_local / is_from_local run on every
 * request and must not wait for the database — and reloaded every `reloadIntervalMs` and on
 * demand (`reload()`, for an admin endpoint or SIGHUP). The loaded set is pushed into the core's
 * LocalIdentity, so `uri==myself` follows the table too. Allowed in request and failure routes.
 *
 * If a reload fails the previous set stays in force (a database hiccup must not make every
 * domain foreign).
 */
import { SipUri, type Logger } from '@voip/sip';
import type { LocalIdentity } from '../../core/local-identity.js';
import type { FailureContext, RequestContext } from '../../core/route-context.js';
import type { DomainApi } from '../../routing/ch5-modules-api.js';
import type { DomainRepository } from '../../storage/storage.js';

export const name = 'domain';

export interface DomainSettings {
  /** Domains from the configuration (the book's `alias=` lines); always served. */
  configured: readonly string[];
  reloadIntervalMs: number;
}

export class DomainModule implements DomainApi {
  private timer: NodeJS.Timeout | null = null;
  private readonly log: Logger;
  private loaded: readonly string[] = [];
  private reloading: Promise<number> | null = null;

  constructor(
    private readonly s: DomainSettings,
    private readonly repo: DomainRepository,
    private readonly identity: LocalIdentity,
    logger: Logger,
  ) {
    this.log = logger.child({ layer: 'proxy.domain' });
  }

  /** Loads the table once (failing start-up if it cannot), then reloads periodically. */
  async start(): Promise<void> {
    await this.load();
    if (this.s.reloadIntervalMs > 0) {
      this.timer = setInterval(() => void this.reload(), this.s.reloadIntervalMs);
      this.timer.unref();
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async load(): Promise<number> {
    const rows = await this.repo.list();
    const next = rows.map((r) => r.domain.toLowerCase());
    const changed = next.length !== this.loaded.length || next.some((d, i) => d !== this.loaded[i]);
    this.loaded = next;
    this.identity.setDomains([...this.s.configured, ...next]);
    if (changed) this.log.info({ domains: next }, 'domains loaded from the domain table');
    return next.length;
  }

  /** Re-reads the table; the number of domains loaded, or -1 when the database failed. */
  reload(): Promise<number> {
    if (this.reloading) return this.reloading;
    this.reloading = this.load()
      .catch((err: unknown) => {
        this.log.warn({ err: (err as Error).message }, 'domain reload failed; keeping the previous set');
        return -1;
      })
      .finally(() => {
        this.reloading = null;
      });
    return this.reloading;
  }

  get domains(): readonly string[] {
    return this.identity.domainList;
  }

  isUriHostLocal(ctx: RequestContext | FailureContext): boolean {
    const uri = ctx.request.uri;
    return uri instanceof SipUri && this.identity.isLocalHost(uri.host);
  }

  isFromLocal(ctx: RequestContext | FailureContext): boolean {
    const uri = ctx.request.from.uri;
    return uri instanceof SipUri && this.identity.isLocalHost(uri.host);
  }
}

export async function init(deps: { settings: DomainSettings; domains: DomainRepository; identity: LocalIdentity; logger: Logger }): Promise<DomainModule> {
  const m = new DomainModule(deps.settings, deps.domains, deps.identity, deps.logger);
  await m.start();
  return m;
}
