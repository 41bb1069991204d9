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
import { TableReloader } from '../../util/table-reloader.js';
import { SipUri, type Logger } from '@voip/sip';
import type { LocalIdentity } from '../../core/local-identity.js';
import type { FailureContext, RequestContext } from '../../core/route-context.js';
import type { DomainApi } from '../../routing/ch5-modules-api.js';
import type { DomainRepository } from '@voip/storage';

export const name = 'domain';

export interface DomainSettings {
  /** Domains from the configuration (the book's `alias=` lines); always served. */
  configured: readonly string[];
  reloadIntervalMs: number;
}

export class DomainModule implements DomainApi {
  private readonly log: Logger;
  private readonly reloader: TableReloader;
  private loaded: readonly string[] = [];

  constructor(
    private readonly s: DomainSettings,
    private readonly repo: DomainRepository,
    private readonly identity: LocalIdentity,
    logger: Logger,
  ) {
    this.log = logger.child({ layer: 'proxy.domain' });
    this.reloader = new TableReloader(() => this.load(), s.reloadIntervalMs, this.log, 'domains');
  }

  /** Loads the table once (failing start-up if it cannot), then reloads periodically. */
  async start(): Promise<void> {
    await this.reloader.start();
  }

  stop(): void {
    this.reloader.stop();
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
    return this.reloader.reload();
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
