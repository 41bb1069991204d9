// Prometheus metrics (prom-client). Counters the media path touches are plain numbers read at
// scrape time (collect()), so the 20 ms clock and the RTP receive path never call prom-client.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CallOutcomeObserver } from './calls/call-context.js';

export interface MetricSources {
  activeCalls(): number;
  subscriptions(): number;
  subscribers(): number;
  dialogs(): number;
  mediaClock(): { ticks: number; framesSent: number; framesSkipped: number; maxLatenessMs: number; sumLatenessMs: number; lateTicks: number } | null;
  notifies(): { sent: number; failed: number; unsolicited: number };
}

export class VoicemailMetrics implements CallOutcomeObserver {
  readonly registry: Registry;
  private readonly messages: Counter;
  private readonly dropped: Counter<'why'>;
  private readonly calls: Counter<'kind' | 'how'>;
  private readonly duration: Histogram;

  constructor(src: MetricSources) {
    const registry = new Registry();
    this.registry = registry;
    collectDefaultMetrics({ register: registry, prefix: 'voicemail_' });
    this.messages = new Counter({ name: 'voicemail_messages_recorded_total', help: 'Messages stored in mailboxes', registers: [registry] });
    this.dropped = new Counter({ name: 'voicemail_recordings_dropped_total', help: 'Recordings not stored, by why (too-short, error)', labelNames: ['why'], registers: [registry] });
    this.calls = new Counter({ name: 'voicemail_calls_total', help: 'Calls ended, by kind (deposit, access) and how they ended', labelNames: ['kind', 'how'], registers: [registry] });
    this.duration = new Histogram({ name: 'voicemail_message_seconds', help: 'Length of stored messages', buckets: [1, 5, 10, 30, 60, 120, 180, 600], registers: [registry] });
    new Gauge({ name: 'voicemail_active_calls', help: 'Calls in progress', registers: [registry], collect() { this.set(src.activeCalls()); } });
    new Gauge({ name: 'voicemail_mwi_subscriptions', help: 'Active message-summary subscriptions', registers: [registry], collect() { this.set(src.subscriptions()); } });
    new Gauge({ name: 'voicemail_subscribers', help: 'Mailboxes (subscribers) known', registers: [registry], collect() { this.set(src.subscribers()); } });
    new Gauge({ name: 'voicemail_dialogs', help: 'SIP dialogs held (calls and subscriptions)', registers: [registry], collect() { this.set(src.dialogs()); } });
    const frames = new Counter({
      name: 'voicemail_rtp_frames_total',
      help: 'Paced 20 ms frames played, and frames skipped because the clock fell behind',
      labelNames: ['what'],
      registers: [registry],
      collect() {
        const c = src.mediaClock();
        frames.reset();
        if (c !== null) {
          frames.inc({ what: 'sent' }, c.framesSent);
          frames.inc({ what: 'skipped' }, c.framesSkipped);
        }
      },
    });
    new Gauge({
      name: 'voicemail_media_clock_max_lateness_seconds',
      help: 'Largest lateness of a 20 ms media tick behind its grid instant',
      registers: [registry],
      collect() {
        this.set((src.mediaClock()?.maxLatenessMs ?? 0) / 1000);
      },
    });
    const ticks = new Counter({
      name: 'voicemail_media_clock_ticks_total',
      help: 'Ticks of the 20 ms media clock, by whether they ran more than 5 ms behind their grid instant',
      labelNames: ['late'],
      registers: [registry],
      collect() {
        const c = src.mediaClock();
        ticks.reset();
        if (c !== null) {
          ticks.inc({ late: 'no' }, c.ticks - c.lateTicks);
          ticks.inc({ late: 'yes' }, c.lateTicks);
        }
      },
    });
    new Gauge({
      name: 'voicemail_media_clock_mean_lateness_seconds',
      help: 'Mean lateness of media clock ticks behind their grid instant',
      registers: [registry],
      collect() {
        const c = src.mediaClock();
        this.set(c === null || c.ticks === 0 ? 0 : c.sumLatenessMs / c.ticks / 1000);
      },
    });
    const notifies = new Counter({
      name: 'voicemail_mwi_notifies_total',
      help: 'MWI NOTIFY requests, by what (sent, failed, unsolicited)',
      labelNames: ['what'],
      registers: [registry],
      collect() {
        const n = src.notifies();
        notifies.reset();
        notifies.inc({ what: 'sent' }, n.sent);
        notifies.inc({ what: 'failed' }, n.failed);
        notifies.inc({ what: 'unsolicited' }, n.unsolicited);
      },
    });
  }

  onMessageRecorded(seconds: number): void {
    this.messages.inc();
    this.duration.observe(seconds);
  }

  onRecordingDropped(why: 'too-short' | 'error'): void {
    this.dropped.inc({ why });
  }

  onCallEnded(kind: 'deposit' | 'access', how: string): void {
    this.calls.inc({ kind, how });
  }
}
