/**
 * rr module: Record-Route insertion and loose routing. Allowed in request routes only.
 * Depends on the core's LocalIdentity (what "myself" is).
 */
import type { LocalIdentity } from '../../core/local-identity.js';
import { looseRoute } from '../../core/route-set.js';
import type { RequestContext } from '../../core/route-context.js';
import type { RecordRouteApi } from '../../routing/modules-api.js';

export const name = 'rr';

export function init(deps: { identity: LocalIdentity }): RecordRouteApi {
  return new RecordRouteModule(deps.identity);
}

class RecordRouteModule implements RecordRouteApi {
  constructor(private readonly identity: LocalIdentity) {}

  recordRoute(ctx: RequestContext): void {
    ctx.recordRouteRequested = true;
  }

  looseRoute(ctx: RequestContext): boolean {
    return looseRoute(ctx.request, this.identity);
  }
}
