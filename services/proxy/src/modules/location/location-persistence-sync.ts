/**
 * The route's handle on location persistence (UsrlocSyncApi): in db-only mode the AOR a request
 * is about — To of a REGISTER, the R-URI otherwise — is re-read from the table before save or
 * lookup; in the other modes memory is the truth and this does nothing.
 */
import { SipUri } from '@voip/sip';
import type { FailureContext, RequestContext } from '../../core/route-context.js';
import type { UsrlocSyncApi } from '../../routing/ch5-modules-api.js';
import type { LocationPersistence } from './location-persistence.js';

export function usrlocSync(persistence: LocationPersistence | null): UsrlocSyncApi {
  return new UsrlocSync(persistence);
}

class UsrlocSync implements UsrlocSyncApi {
  constructor(private readonly p: LocationPersistence | null) {}

  async sync(ctx: RequestContext | FailureContext): Promise<void> {
    if (this.p === null || this.p.mode !== 'db-only') return;
    const uri = ctx.request.method === 'REGISTER' ? ctx.request.to.uri : ctx.request.uri;
    if (!(uri instanceof SipUri)) return;
    // Same canonical form as the registrar's aorOf (RFC 3261 §10.3 step 5).
    const host = uri.host.toLowerCase();
    await this.p.syncAor(uri.user === null ? host : `${uri.user}@${host}`);
  }
}
