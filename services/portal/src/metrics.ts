/** Prometheus metrics of the portal (GET /metrics). One registry per server instance (tests build several). */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export interface PortalMetrics {
  registry: Registry;
  signIns: Counter<'result'>;
  signUps: Counter<'step'>;
  writes: Counter<'reload'>;
  csrfRejected: Counter;
  responses: Counter<'api' | 'code'>;
}

export function createMetrics(sessionCount: () => number, withProcess = true): PortalMetrics {
  const registry = new Registry();
  if (withProcess) collectDefaultMetrics({ register: registry, prefix: 'voip_portal_process_' });
  new Gauge({ name: 'voip_portal_sessions', help: 'Live portal sessions', registers: [registry], collect() { this.set(sessionCount()); } });
  return {
    registry,
    signIns: new Counter({ name: 'voip_portal_sign_ins_total', help: 'Sign-in attempts by result (success, failure, throttled)', labelNames: ['result'], registers: [registry] }),
    signUps: new Counter({ name: 'voip_portal_sign_ups_total', help: 'Sign-ups requested and confirmed', labelNames: ['step'], registers: [registry] }),
    writes: new Counter({ name: 'voip_portal_writes_total', help: 'Provisioning changes by the proxy reload they triggered', labelNames: ['reload'], registers: [registry] }),
    csrfRejected: new Counter({ name: 'voip_portal_csrf_rejected_total', help: 'State-changing requests refused for a missing or wrong CSRF token', registers: [registry] }),
    responses: new Counter({ name: 'voip_portal_http_responses_total', help: 'HTTP responses by API/page and status code', labelNames: ['api', 'code'], registers: [registry] }),
  };
}
