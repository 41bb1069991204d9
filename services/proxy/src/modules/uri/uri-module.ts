/**
 * uri module (uri_db): `does_uri_exist()` — the R-URI names a subscriber. The book uses it to
 * tell a registered-but-offline user (voicemail) from an unknown one (404) (ch. 8 route[10]).
 * One subscriber query per call, as Kamailio's uri_db does. `is_uri_host_local()` and
 * `is_from_local()` are the domain module's. Allowed in request and failure routes.
 */
import { SipUri } from '@voip/sip';
import type { FailureContext, RequestContext } from '../../core/route-context.js';
import type { UriApi } from '../../routing/provider-modules-api.js';
import type { SubscriberRepository } from '@voip/storage';

export const name = 'uri';

class UriModule implements UriApi {
  constructor(private readonly subscribers: SubscriberRepository) {}

  async doesUriExist(ctx: RequestContext | FailureContext): Promise<boolean> {
    const uri = ctx.request.uri;
    if (!(uri instanceof SipUri) || uri.user === null) return false;
    return (await this.subscribers.get(uri.user, uri.hostNoBrackets().toLowerCase())) !== null;
  }
}

export function init(deps: { subscribers: SubscriberRepository }): UriApi {
  return new UriModule(deps.subscribers);
}
