/**
 * group module: `is_user_in("credentials", group)` over the `grp` table — the book's ACL groups
 * (local, ld, int) that allow calls to each class of PSTN number (ch. 8 route[10]).
 *
 * The groups of an account are read per call, as the book does, through a short-TTL cache
 * (`cacheTtlMs`) so a burst of calls from one user costs one query. Allowed in request and
 * failure routes.
 */
import type { Logger } from '@voip/sip';
import type { RequestContext } from '../../core/route-context.js';
import type { AuthResult } from '../../routing/ch5-modules-api.js';
import type { Account, GroupApi } from '../../routing/provider-modules-api.js';
import type { GroupRepository } from '@voip/storage';

export const name = 'group';

export interface GroupSettings {
  /** How long an account's groups are reused (ms); 0 = query every time. */
  cacheTtlMs: number;
  /** Cached accounts at most; the cache is emptied when full. */
  cacheSize: number;
}

interface CachedGroups {
  readonly groups: ReadonlySet<string>;
  readonly until: number;
}

export class GroupModule implements GroupApi {
  private readonly cache = new Map<string, CachedGroups>();
  private readonly log: Logger;

  constructor(
    private readonly s: GroupSettings,
    private readonly repo: GroupRepository,
    logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.log = logger.child({ layer: 'proxy.group' });
  }

  isUserInCredentials(_ctx: RequestContext, auth: AuthResult | null, group: string): Promise<boolean> {
    // Kamailio: "credentials" takes the username and realm of the authorized credentials; a
    // request that was not authenticated (a trusted peer) belongs to no group.
    if (auth === null || !auth.authorized || auth.username === null || auth.domain === null) return Promise.resolve(false);
    return this.isUserIn({ username: auth.username, domain: auth.domain }, group);
  }

  async isUserIn(account: Account, group: string): Promise<boolean> {
    return (await this.groupsOf(account)).has(group);
  }

  private async groupsOf(account: Account): Promise<ReadonlySet<string>> {
    const key = `${account.username}\u0000${account.domain.toLowerCase()}`;
    const t = this.now();
    const hit = this.cache.get(key);
    if (hit !== undefined && hit.until > t) return hit.groups;
    const groups = new Set(await this.repo.groupsOf(account.username, account.domain));
    if (this.s.cacheTtlMs > 0) {
      if (this.cache.size >= this.s.cacheSize) this.cache.clear();
      this.cache.set(key, { groups, until: t + this.s.cacheTtlMs });
    }
    this.log.debug({ account: `${account.username}@${account.domain}`, groups: [...groups] }, 'groups loaded');
    return groups;
  }

  /** Forgets every cached account (after provisioning changes). The number forgotten. */
  flush(): number {
    const n = this.cache.size;
    this.cache.clear();
    return n;
  }
}

export function init(deps: { settings: GroupSettings; groups: GroupRepository; logger: Logger }): GroupModule {
  return new GroupModule(deps.settings, deps.groups, deps.logger);
}
