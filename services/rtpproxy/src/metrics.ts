// Prometheus metrics (prom-client). Packet counters are read from the workers' shared
// counters at scrape time, so the media path never touches prom-client.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RtpSessionTable } from './media/rtp-session-table.js';
import type { NgObserver } from './ng/ng-server.js';

export class RelayMetrics implements NgObserver {
  readonly registry: Registry;
  private readonly ngCommands: Counter<'command' | 'result'>;
  private readonly ngDuration: Histogram<'command'>;

  constructor(table: RtpSessionTable) {
    this.registry = new Registry();
    collectDefaultMetrics({ register: this.registry, prefix: 'rtp_relay_' });
    this.ngCommands = new Counter({
      name: 'rtp_relay_ng_commands_total',
      help: 'ng control commands handled, by command and result',
      labelNames: ['command', 'result'],
      registers: [this.registry],
    });
    this.ngDuration = new Histogram({
      name: 'rtp_relay_ng_command_seconds',
      help: 'Time to handle an ng command',
      labelNames: ['command'],
      buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5],
      registers: [this.registry],
    });
    new Gauge({
      name: 'rtp_relay_sessions',
      help: 'Active calls',
      registers: [this.registry],
      collect() {
        this.set(table.size);
      },
    });
    new Gauge({
      name: 'rtp_relay_port_pairs_in_use',
      help: 'RTP/RTCP port pairs bound',
      registers: [this.registry],
      collect() {
        this.set(table.totals().portsInUse);
      },
    });
    new Gauge({
      name: 'rtp_relay_port_pairs_total',
      help: 'RTP/RTCP port pairs in the configured range',
      registers: [this.registry],
      collect() {
        this.set(table.totals().portsTotal);
      },
    });
    const sessions = new Counter({
      name: 'rtp_relay_sessions_total',
      help: 'Calls by how they ended (created, deleted, timeout)',
      labelNames: ['event'],
      registers: [this.registry],
      collect() {
        const t = table.totals();
        sessions.reset();
        sessions.inc({ event: 'created' }, t.created);
        sessions.inc({ event: 'deleted' }, t.deleted);
        sessions.inc({ event: 'timeout' }, t.timedOut);
      },
    });
    const packets = new Counter({
      name: 'rtp_relay_packets_total',
      help: 'Media packets received on relay ports, by kind; errors are packets not forwarded',
      labelNames: ['kind', 'what'],
      registers: [this.registry],
      collect() {
        const t = table.totals();
        packets.reset();
        packets.inc({ kind: 'rtp', what: 'packets' }, t.rtp.packets);
        packets.inc({ kind: 'rtp', what: 'errors' }, t.rtp.errors);
        packets.inc({ kind: 'rtcp', what: 'packets' }, t.rtcp.packets);
        packets.inc({ kind: 'rtcp', what: 'errors' }, t.rtcp.errors);
      },
    });
    const bytes = new Counter({
      name: 'rtp_relay_bytes_total',
      help: 'Media bytes received on relay ports, by kind',
      labelNames: ['kind'],
      registers: [this.registry],
      collect() {
        const t = table.totals();
        bytes.reset();
        bytes.inc({ kind: 'rtp' }, t.rtp.bytes);
        bytes.inc({ kind: 'rtcp' }, t.rtcp.bytes);
      },
    });
  }

  onCommand(command: string, result: 'ok' | 'error', seconds: number): void {
    this.ngCommands.inc({ command, result });
    this.ngDuration.observe({ command }, seconds);
  }
}
