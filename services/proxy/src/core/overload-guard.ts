/**
 * Overload protection: while the proxy cannot keep up, new INVITEs are answered
 * `503 Service Unavailable` with `Retry-After` (RFC 3261 §21.5.4, §20.33) so callers and
 * upstream proxies go elsewhere or come back later, while transactions in progress, in-dialog
 * requests (BYE, re-INVITE, ACK) and CANCEL keep being served: a call that is up is never
 * dropped to make room for a new one. It recovers by itself when the load falls.
 *
 * Load is measured, not guessed (no fixed calls/s figure that depends on the machine):
 *  - datagrams the kernel dropped on our UDP sockets because we did not read them in time
 *    (the `drops` column of /proc/net/udp, Linux): the plainest sign that a UDP proxy cannot
 *    keep up. libuv reads a bounded batch per loop turn, so the loop itself may look busy but
 *    punctual while the socket queue overflows. Overloaded while drops keep rising;
 *  - event-loop delay: perf_hooks.monitorEventLoopDelay, the 99th percentile over each
 *    sampling interval: long synchronous work (a burst of hashing, GC) shows here. Hysteresis:
 *    overloaded above the limit, back to normal only at half of it, so the state does not flap;
 *  - relayed requests waiting for a final response (the core's response contexts): a slow or
 *    dead next hop fills them even when the CPU is idle.
 *
 * The 503 is answered by the INVITE's server transaction, which absorbs the caller's
 * retransmissions and retransmits the 503 until the ACK like any final response: no
 * retransmission storm is created by refusing. Retry-After is spread over [n, 2n) seconds so
 * refused callers do not all return in the same second (the synchronisation RFC 7339 warns of).
 */
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Logger, SipRequest } from '@voip/sip';

export interface OverloadSettings {
  enabled: boolean;
  /** Watch the kernel's drop counters of our UDP sockets. */
  udpDrops: boolean;
  maxEventLoopDelayMs: number;
  maxPendingTransactions: number;
  sampleIntervalMs: number;
  retryAfterSeconds: number;
}

/** Where the delay figure comes from: the real event loop, or a test's numbers. */
export interface DelaySampler {
  /** 99th-percentile event-loop delay since the previous call (ms); restarts the measurement. */
  sample(): number;
  close(): void;
}

/** Datagrams dropped on our sockets since the previous call; null when not measurable. */
export interface DropSampler {
  sample(): number | null;
}

/**
 * Reads the `drops` column of /proc/net/udp and /proc/net/udp6 for the sockets bound to
 * `ports` (the kernel counts datagrams it discarded because the socket's receive queue was
 * full), plus `queueDrops`. Where /proc is missing (not Linux) it measures nothing.
 */
export function procUdpDropSampler(
  ports: readonly number[],
  read: (path: string) => string = (p) => readFileSync(p, 'latin1'),
  /** Datagrams dropped above the kernel so far (native UDP I/O: its per-thread queues were full). */
  queueDrops: () => number = () => 0,
): DropSampler {
  const wanted = new Set(ports.map((p) => p.toString(16).toUpperCase().padStart(4, '0')));
  let last: number | null = null;
  const total = (): number | null => {
    let sum = 0;
    let seen = false;
    for (const path of ['/proc/net/udp', '/proc/net/udp6']) {
      let text: string;
      try {
        text = read(path);
      } catch {
        continue;
      }
      for (const line of text.split('\n')) {
        // sl local_address rem_address st … inode ref pointer drops
        const f = line.trim().split(/\s+/);
        if (f.length < 13) continue;
        const local = f[1]!;
        if (!wanted.has(local.slice(local.lastIndexOf(':') + 1))) continue;
        const drops = Number(f[f.length - 1]);
        if (!Number.isFinite(drops)) continue;
        sum += drops;
        seen = true;
      }
    }
    return seen ? sum + queueDrops() : null;
  };
  return {
    sample(): number | null {
      const now = total();
      if (now === null) return null;
      const delta = last === null ? 0 : Math.max(0, now - last);
      last = now;
      return delta;
    },
  };
}

/**
 * The event loop's delay (p99 over the interval), or how long received datagrams waited in a
 * queue above the kernel over the interval (`queueWaitMs`: native UDP I/O's receiver thread
 * keeps reading while the loop is busy), whichever is larger: both are how late a message is
 * looked at.
 */
export function eventLoopDelaySampler(queueWaitMs: () => number = () => 0): DelaySampler {
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  return {
    sample(): number {
      const ms = h.count > 0 ? h.percentile(99) / 1e6 : 0;
      h.reset();
      return Math.max(ms, queueWaitMs());
    },
    close(): void {
      h.disable();
    },
  };
}

export class OverloadGuard {
  private delayOver = false;
  private dropsOver = false;
  private pendingOver = false;
  /** Datagrams the kernel dropped on our sockets (since start), for metrics. */
  udpDrops = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly log: Logger;
  /** Last sampled delay (ms), for metrics. */
  lastDelayMs = 0;
  /** Metrics. */
  rejected = 0;
  episodes = 0;

  constructor(
    private readonly s: OverloadSettings,
    /** Relayed requests still waiting for their final response. */
    private readonly pending: () => number,
    logger: Logger,
    private readonly sampler: DelaySampler | null = s.enabled ? eventLoopDelaySampler() : null,
    private readonly random: () => number = Math.random,
    private readonly drops: DropSampler | null = null,
  ) {
    this.log = logger.child({ layer: 'proxy.overload' });
  }

  start(): void {
    if ((this.sampler === null && this.drops === null) || this.timer !== null) return;
    this.timer = setInterval(() => this.sample(), this.s.sampleIntervalMs);
    this.timer.unref();
  }

  close(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.sampler?.close();
  }

  /** One sampling step (the timer's; tests call it directly). */
  sample(): void {
    if (this.drops !== null && this.s.udpDrops) {
      const d = this.drops.sample();
      if (d !== null) {
        this.udpDrops += d;
        const over = d > 0;
        if (over !== this.dropsOver) {
          this.dropsOver = over;
          this.transition(over, { udpDrops: d, intervalMs: this.s.sampleIntervalMs });
        }
      }
    }
    if (this.sampler === null) return;
    const ms = this.sampler.sample();
    this.lastDelayMs = ms;
    const max = this.s.maxEventLoopDelayMs;
    const over = this.delayOver ? ms > max / 2 : ms > max;
    if (over !== this.delayOver) {
      this.delayOver = over;
      this.transition(over, { eventLoopDelayMs: Math.round(ms), limitMs: max });
    }
  }

  get overloaded(): boolean {
    return this.delayOver || this.dropsOver || this.pendingOver;
  }

  /**
   * True when `req` is a new INVITE (no To tag: not in a dialog) that must be refused now.
   * Counted; the caller answers 503 with `retryAfter()`.
   */
  rejectsNewInvite(req: SipRequest): boolean {
    if (!this.s.enabled || req.method !== 'INVITE' || req.to.tag !== null) return false;
    const max = this.s.maxPendingTransactions;
    if (max > 0) {
      const over = this.pending() >= max;
      if (over !== this.pendingOver) {
        this.pendingOver = over;
        this.transition(over, { pendingTransactions: this.pending(), limit: max });
      }
    }
    if (!this.overloaded) return false;
    this.rejected++;
    return true;
  }

  /** Retry-After value: a whole number of seconds in [n, 2n). */
  retryAfter(): string {
    const n = this.s.retryAfterSeconds;
    return String(n + Math.floor(this.random() * n));
  }

  metrics(): Record<string, number> {
    return { overload_rejected: this.rejected, overload_episodes: this.episodes, overload_active: this.overloaded ? 1 : 0, event_loop_delay_p99_ms: Math.round(this.lastDelayMs), udp_drops: this.udpDrops };
  }

  private transition(over: boolean, detail: Record<string, number>): void {
    if (over) {
      this.episodes++;
      this.log.warn({ event: 'overload', ...detail }, 'overloaded: new INVITEs are answered 503');
    } else {
      this.log.info({ event: 'overload-over', ...detail }, 'load back to normal');
    }
  }
}
