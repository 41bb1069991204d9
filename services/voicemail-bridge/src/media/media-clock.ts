/**
 * One pacing clock for every outgoing RTP stream of the process (STYLE.md §13: one shared
 * timer, not a setInterval per call). Streams are aligned on a global 20 ms grid; each
 * tick re-arms one setTimeout for the next grid instant and gives every stream the frames
 * that are due, so a late tick catches up instead of drifting. The lateness of each tick
 * against its grid instant is the jitter this process adds to greetings; it is measured.
 */

export const FRAME_MS = 20;
export const FRAME_SAMPLES = 160;
/** A stream that fell further behind than this skips frames rather than bursting them. */
const MAX_CATCH_UP_FRAMES = 5;

export interface PacedStream {
  /** Send the frame for grid instant `frame`. */
  onMediaFrame(frame: number): void;
  /** Frame index the stream sends next (owned by the clock). */
  nextFrame: number;
}

export interface MediaClockStats {
  ticks: number;
  framesSent: number;
  framesSkipped: number;
  /** Lateness of ticks behind their grid instant, ms. */
  maxLatenessMs: number;
  sumLatenessMs: number;
  /** Ticks later than 5 ms behind their grid instant. */
  lateTicks: number;
}

export class MediaClock {
  readonly stats: MediaClockStats;
  private readonly streams: Set<PacedStream>;
  private readonly epoch: number;
  private timer: NodeJS.Timeout | null;
  private readonly now: () => number;
  /** The last grid frame a tick handled. */
  private lastDue: number;

  constructor(now: () => number = () => performance.now()) {
    this.now = now;
    this.epoch = now();
    this.streams = new Set();
    this.timer = null;
    this.lastDue = -1;
    this.stats = { ticks: 0, framesSent: 0, framesSkipped: 0, maxLatenessMs: 0, sumLatenessMs: 0, lateTicks: 0 };
  }

  get size(): number {
    return this.streams.size;
  }

  /** The grid frame that is due now. */
  currentFrame(): number {
    return Math.floor((this.now() - this.epoch) / FRAME_MS);
  }

  /** Starts pacing `s` from the next grid instant. */
  add(s: PacedStream): void {
    s.nextFrame = this.currentFrame() + 1;
    this.streams.add(s);
    if (this.timer === null) this.arm();
  }

  remove(s: PacedStream): void {
    this.streams.delete(s);
    if (this.streams.size === 0 && this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  close(): void {
    this.streams.clear();
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Drives one tick by hand (tests with a fake clock). */
  tick(): void {
    const now = this.now();
    const due = Math.floor((now - this.epoch) / FRAME_MS);
    const lateness = now - (this.epoch + due * FRAME_MS);
    this.lastDue = due;
    this.stats.ticks++;
    this.stats.sumLatenessMs += lateness;
    if (lateness > this.stats.maxLatenessMs) this.stats.maxLatenessMs = lateness;
    if (lateness > 5) this.stats.lateTicks++;
    for (const s of this.streams) {
      if (due - s.nextFrame >= MAX_CATCH_UP_FRAMES) {
        this.stats.framesSkipped += due - s.nextFrame;
        s.nextFrame = due;
      }
      while (s.nextFrame <= due && this.streams.has(s)) {
        const f = s.nextFrame++;
        s.onMediaFrame(f);
        this.stats.framesSent++;
      }
    }
  }

  private arm(): void {
    const now = this.now();
    const next = this.epoch + (Math.floor((now - this.epoch) / FRAME_MS) + 1) * FRAME_MS;
    this.timer = setTimeout(onClockTimer, Math.max(1, Math.ceil(next - now)), this);
  }

  /** @internal timer callback */
  fire(): void {
    this.timer = null;
    const now = this.now();
    if (Math.floor((now - this.epoch) / FRAME_MS) <= this.lastDue) {
      // Fired before the grid instant: libuv measures timers from its cached loop time, which
      // lags the real clock, so a timer can expire early. Wait out the rest; sending now would
      // mean waiting a whole extra period for the next tick.
      const next = this.epoch + (this.lastDue + 1) * FRAME_MS;
      this.timer = setTimeout(onClockTimer, Math.max(1, Math.ceil(next - now)), this);
      return;
    }
    this.tick();
    if (this.streams.size > 0) this.arm();
  }
}

function onClockTimer(clock: MediaClock): void {
  clock.fire();
}
