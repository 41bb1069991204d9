/**
 * Builds the provider route's modules (book ch. 7–8) over the storage, for server.ts: the
 * chapter-5 modules plus permissions, group, uri, dialplan, lcr, avpops, speeddial and
 * voicemail. In-memory tables (trusted/address, lcr, dialplan) are loaded here — a start-up
 * that cannot read them fails — and reload periodically and through the admin API.
 */
import type { Logger } from '@voip/sip';
import type { ProxyConfig } from './config.js';
import * as avpops from './modules/avpops/index.js';
import * as dialplan from './modules/dialplan/index.js';
import * as group from './modules/group/index.js';
import * as lcr from './modules/lcr/index.js';
import * as permissions from './modules/permissions/index.js';
import * as speeddial from './modules/speeddial/index.js';
import * as uri from './modules/uri/index.js';
import * as voicemail from './modules/voicemail/index.js';
import type { Ch5Modules } from './routing/ch5-modules-api.js';
import type { ProviderModules } from './routing/provider-modules-api.js';
import { assertSchema, PROVIDER_TABLE_VERSIONS, type Storage } from '@voip/storage';

/** What the admin API reloads (POST /permissions|lcr|dialplan|preferences/reload); -1 = the database failed. */
export interface ProviderReloaders {
  permissions(): Promise<number>;
  lcr(): Promise<number>;
  dialplan(): Promise<number>;
  preferences(): Promise<number>;
}

export interface ProviderSetup {
  readonly modules: ProviderModules;
  readonly reloaders: ProviderReloaders;
  /**
   * Whether a source address is a peer the in-memory tables trust (permissions trusted/address,
   * LCR gateway ip_addr): pike does not count it (docs/security.md). No database access.
   */
  trustsSource(address: string, port: number): boolean;
  stop(): void;
}

/** Cached accounts at most in the group / preference caches. */
const CACHE_SIZE = 100_000;

export async function setupProvider(config: ProxyConfig, storage: Storage, ch5: Ch5Modules, logger: Logger): Promise<ProviderSetup> {
  // A Kamailio database must have the provider tables at the versions this code reads.
  await assertSchema(storage, Object.keys(PROVIDER_TABLE_VERSIONS));
  const started: { stop(): void }[] = [];
  try {
    const perms = await permissions.init({
      settings: { addressGroup: config.permissions.addressGroup, reloadIntervalMs: config.permissions.reloadInterval },
      trusted: storage.trusted,
      addresses: storage.addresses,
      logger,
    });
    started.push(perms);
    const plan = await dialplan.init({
      settings: { dpid: config.dialplan.dpid, rules: config.dialplan.rules, denyReasons: config.dialplan.denyReasons, reloadIntervalMs: config.dialplan.reloadInterval },
      dialplan: storage.dialplan,
      logger,
    });
    started.push(plan);
    const routing = await lcr.init({
      settings: { lcrId: config.lcr.id, frInvTimeoutMs: config.lcr.frInvTimeout, reloadIntervalMs: config.lcr.reloadInterval },
      lcr: storage.lcr,
      logger,
    });
    started.push(routing);
    const groups = group.init({ settings: { cacheTtlMs: config.callForward.cacheTtl, cacheSize: CACHE_SIZE }, groups: storage.groups, logger });
    const forwarding = avpops.init({
      settings: { cacheTtlMs: config.callForward.cacheTtl, cacheSize: CACHE_SIZE, noAnswerTimeoutMs: config.callForward.noAnswerTimeout, maxChain: config.callForward.maxChain },
      preferences: storage.preferences,
      logger,
    });
    const modules: ProviderModules = {
      ...ch5,
      permissions: perms,
      group: groups,
      uri: uri.init({ subscribers: storage.subscribers }),
      dialplan: plan,
      lcr: routing,
      callForward: forwarding,
      speedDial: speeddial.init({ speedDial: storage.speedDial, logger }),
      voicemail: voicemail.init({ settings: config.voicemail }),
    };
    return {
      modules,
      reloaders: {
        permissions: () => perms.reload(),
        lcr: () => routing.reload(),
        dialplan: () => plan.reload(),
        // usr_preferences and grp are read per call through short-TTL caches: dropping them is the reload.
        preferences: () => Promise.resolve(forwarding.flush() + groups.flush()),
      },
      trustsSource(address: string, port: number): boolean {
        const ip = permissions.canonicalIp(address);
        return perms.trustsSource(ip, port) || routing.isGatewayAddress(ip);
      },
      stop(): void {
        for (const s of started) s.stop();
      },
    };
  } catch (err) {
    for (const s of started) s.stop();
    throw err;
  }
}
