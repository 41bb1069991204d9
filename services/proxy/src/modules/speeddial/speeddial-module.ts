/**
 * speeddial module: `sd_lookup("speed_dial")` (book ch. 7): a local caller dials a 2-digit
 * short number and reaches the URI of their `speed_dial` entry. One query per call, as the
 * module does in Kamailio. Allowed in request routes.
 */
import { parseUri, SipUri, TelUri, type Logger } from '@voip/sip';
import type { RequestContext } from '../../core/route-context.js';
import type { Account, SpeedDialApi } from '../../routing/provider-modules-api.js';
import { telTargetUri } from '../../routing/tel-target.js';
import type { SpeedDialRepository } from '@voip/storage';

export const name = 'speeddial';

/** The book's short numbers: two digits (`uri=~"^sip:[0-9]{2}@"`). */
const SHORT_NUMBER = /^[0-9]{2}$/;

class SpeedDialModule implements SpeedDialApi {
  private readonly log: Logger;

  constructor(
    private readonly repo: SpeedDialRepository,
    logger: Logger,
  ) {
    this.log = logger.child({ layer: 'proxy.speeddial' });
  }

  async lookup(ctx: RequestContext, caller: Account): Promise<boolean> {
    const uri = ctx.request.uri;
    if (!(uri instanceof SipUri) || uri.user === null || !SHORT_NUMBER.test(uri.user)) return false;
    const row = await this.repo.lookup(caller.username, caller.domain, uri.user);
    if (row === null) return false;
    const parsed = parseUri(row.newUri);
    // A tel: entry is the number as the caller would dial it from their domain: the route then
    // takes it through the dial plan (the caller's ACL groups, normalisation) and LCR.
    const target = parsed instanceof TelUri ? telTargetUri(parsed, caller.domain) : parsed;
    if (!(target instanceof SipUri)) {
      this.log.warn({ account: `${caller.username}@${caller.domain}`, sd: uri.user, newUri: row.newUri }, 'speed_dial entry ignored: new_uri is neither a SIP URI nor a diallable tel: number');
      return false;
    }
    ctx.request.uri = target;
    return true;
  }
}

export function init(deps: { speedDial: SpeedDialRepository; logger: Logger }): SpeedDialApi {
  return new SpeedDialModule(deps.speedDial, deps.logger);
}
