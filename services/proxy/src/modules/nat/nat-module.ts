/**
 * nat module (Kamailio's nathelper): detection, signalling fixes, keepalives. Parameters and
 * route kinds are listed in README.md. The keepalive pinger owns its timer; `close()` stops it.
 */
import type { Logger, TransportSink } from '@voip/sip';
import type { NatApi } from '../../routing/nat-sub-routes.js';
import type { LocationStore } from '../location/location-store.js';
import { NatEdgeSink } from './nat-edge-sink.js';
import { NatKeepalive, type KeepaliveTransports } from './nat-keepalive.js';
import { NatHelper, natTestMask, type NatTest } from './nathelper.js';

export const name = 'nat';

export interface NatSettings {
  tests: readonly NatTest[];
  /** force_rport() on every UDP request, before its transaction exists. */
  forceRport: boolean;
  keepalive: {
    /** Seconds between keepalives to NATed bindings; 0 = off. */
    interval: number;
    /** Unanswered OPTIONS in a row before a UDP binding is removed; 0 = never. */
    maxMisses: number;
    /** From URI of the keepalive OPTIONS. */
    from: string;
  };
}

export interface NatModule {
  readonly api: NatApi;
  readonly keepalive: NatKeepalive;
  /** Puts the module in front of `inner` (the transaction layer or the edge filters). */
  sinkFor(inner: TransportSink): TransportSink;
  close(): void;
}

export function init(deps: { settings: NatSettings; location: LocationStore; transports: KeepaliveTransports; logger: Logger }): NatModule {
  const s = deps.settings;
  const keepalive = new NatKeepalive({
    location: deps.location,
    transports: deps.transports,
    intervalSeconds: s.keepalive.interval,
    maxMisses: s.keepalive.maxMisses,
    fromUri: s.keepalive.from,
    logger: deps.logger,
  });
  keepalive.start();
  return {
    api: new NatHelper(natTestMask(s.tests)),
    keepalive,
    sinkFor(inner: TransportSink): TransportSink {
      return new NatEdgeSink(keepalive, inner, s.forceRport);
    },
    close(): void {
      keepalive.stop();
    },
  };
}
