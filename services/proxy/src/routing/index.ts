/**
 * The router handed to the proxy core: binds the route functions to the modules built at start-up.
 */
import type { ProxyRouter } from '../core/proxy-core.js';
import type { RequestContext } from '../core/route-context.js';
import type { ProxyModules } from './modules-api.js';
import { requestRoute } from './standard-route.js';

export type { ProxyModules, RecordRouteApi, RegistrarApi } from './modules-api.js';

export function createRouter(modules: ProxyModules): ProxyRouter {
  return {
    requestRoute(ctx: RequestContext): void {
      requestRoute(ctx, modules);
    },
  };
}
