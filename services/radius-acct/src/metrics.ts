import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** radius-acct's Prometheus metrics, on their own registry (served at /metrics). */
export class Metrics {
  readonly registry: Registry;
  readonly requests: Counter<'server' | 'status'>;
  readonly retransmissions: Counter<'server'>;
  readonly failovers: Counter<'from'>;
  readonly acknowledged: Counter<'status'>;
  readonly parked: Counter<'reason'>;
  readonly badResponses: Counter<'server'>;
  readonly inFlight: Gauge;
  readonly lagSeconds: Gauge;
  readonly serverUp: Gauge<'server'>;
  readonly responseSeconds: Histogram<'server'>;

  constructor(withDefaults = true) {
    this.registry = new Registry();
    const registers = [this.registry];
    this.requests = new Counter({ name: 'radius_acct_requests_sent_total', help: 'Accounting-Requests sent (first transmissions, per server and status type)', labelNames: ['server', 'status'], registers });
    this.retransmissions = new Counter({ name: 'radius_acct_retransmissions_total', help: 'Accounting-Request retransmissions', labelNames: ['server'], registers });
    this.failovers = new Counter({ name: 'radius_acct_failovers_total', help: 'Records moved to another server after their tries on one ran out', labelNames: ['from'], registers });
    this.acknowledged = new Counter({ name: 'radius_acct_records_acknowledged_total', help: 'Records acknowledged by an Accounting-Response', labelNames: ['status'], registers });
    this.parked = new Counter({ name: 'radius_acct_records_parked_total', help: 'Records parked instead of delivered', labelNames: ['reason'], registers });
    this.badResponses = new Counter({ name: 'radius_acct_bad_responses_total', help: 'Responses dropped: unknown identifier, bad authenticator (wrong secret) or not an Accounting-Response', labelNames: ['server'], registers });
    this.inFlight = new Gauge({ name: 'radius_acct_in_flight', help: 'Records sent and not yet acknowledged', registers });
    this.lagSeconds = new Gauge({ name: 'radius_acct_lag_seconds', help: 'Age of the oldest record not yet settled (0 when caught up)', registers });
    this.serverUp = new Gauge({ name: 'radius_acct_server_up', help: '1 while the server answers, 0 while it is marked dead', labelNames: ['server'], registers });
    this.responseSeconds = new Histogram({ name: 'radius_acct_response_seconds', help: 'Time from first transmission to Accounting-Response', labelNames: ['server'], buckets: [0.001, 0.005, 0.02, 0.1, 0.5, 1, 5, 30], registers });
    if (withDefaults) collectDefaultMetrics({ register: this.registry });
  }
}
