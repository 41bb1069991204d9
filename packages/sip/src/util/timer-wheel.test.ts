import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock, TimerEntry, TimerWheel } from './timer-wheel.js';
import type { TimerTarget } from './timer-wheel.js';

/** Records (time, kind) of every expiry. */
class Recorder implements TimerTarget {
  readonly fired: Array<[number, number]> = [];
  constructor(private readonly clock: ManualClock) {}
  onTimer(kind: number): void {
    this.fired.push([this.clock.now(), kind]);
  }
}

function setup(tickMs = 10): { clock: ManualClock; wheel: TimerWheel; rec: Recorder } {
  const clock = new ManualClock(1000);
  const wheel = new TimerWheel({ clock, tickMs, manual: true });
  return { clock, wheel, rec: new Recorder(clock) };
}

/** Advances in steps of `step` ms up to `total`, polling after each step. */
function advance(clock: ManualClock, wheel: TimerWheel, total: number, step = total): void {
  let left = total;
  while (left > 0) {
    const d = Math.min(step, left);
    clock.time += d;
    left -= d;
    wheel.poll();
  }
}

describe('TimerWheel', () => {
  it('fires a timer exactly when its time is reached, never before', () => {
    const { clock, wheel, rec } = setup();
    const e = new TimerEntry(rec, 7);
    wheel.schedule(e, 500);
    assert.equal(e.armed, true);
    advance(clock, wheel, 490);
    assert.deepEqual(rec.fired, []);
    advance(clock, wheel, 10);
    assert.deepEqual(rec.fired, [[1500, 7]]);
    assert.equal(e.armed, false);
    assert.equal(wheel.size, 0);
  });

  it('rounds delays up to the tick so nothing fires early', () => {
    const { clock, wheel, rec } = setup();
    wheel.schedule(new TimerEntry(rec, 1), 15);
    advance(clock, wheel, 15, 1);
    assert.deepEqual(rec.fired, []);
    advance(clock, wheel, 5, 1);
    assert.deepEqual(rec.fired, [[1020, 1]]);
  });

  it('cancel() disarms; re-scheduling moves the timer', () => {
    const { clock, wheel, rec } = setup();
    const a = new TimerEntry(rec, 1);
    const b = new TimerEntry(rec, 2);
    wheel.schedule(a, 100);
    wheel.schedule(b, 100);
    wheel.cancel(a);
    wheel.cancel(a); // idempotent
    wheel.schedule(b, 300); // re-arm replaces the first arming
    assert.equal(wheel.size, 1);
    advance(clock, wheel, 1000);
    assert.deepEqual(rec.fired, [[2000, 2]]);
  });

  it('fires timers in due order, across all levels, after a single big jump', () => {
    const { clock, wheel, rec } = setup();
    // Level 0 (< 2.56 s), level 1 (< 655 s), level 2 (< 46 h) and level 3 spans.
    const delays = [30, 2_550, 2_560, 2_570, 32_000, 655_350, 655_360, 700_000, 3 * 3_600_000, 50 * 3_600_000];
    delays.forEach((d, i) => wheel.schedule(new TimerEntry(rec, i), d));
    clock.time += 60 * 3_600_000;
    wheel.poll();
    assert.deepEqual(
      rec.fired.map(([, k]) => k),
      delays.map((_, i) => i),
    );
  });

  it('fires each timer at its own tick when polled tick by tick across level boundaries', () => {
    const { clock, wheel, rec } = setup();
    const delays = [2_550, 2_560, 2_570, 5_120, 655_350, 655_360, 655_370];
    delays.forEach((d, i) => wheel.schedule(new TimerEntry(rec, i), d));
    advance(clock, wheel, 700_000, 10);
    assert.deepEqual(
      rec.fired,
      delays.map((d, i) => [1000 + d, i]),
    );
  });

  it('keeps timers armed from inside a callback, including zero delays', () => {
    const { clock, wheel } = setup();
    const log: Array<[number, number]> = [];
    // A target that re-arms itself with doubling intervals, like Timer E.
    const target = {
      entry: null as TimerEntry | null,
      interval: 500,
      onTimer(kind: number): void {
        log.push([clock.now(), kind]);
        this.interval *= 2;
        if (log.length < 4) wheel.schedule(this.entry!, this.interval);
        if (log.length === 4) wheel.schedule(zero, 0);
      },
    };
    const zero = new TimerEntry({ onTimer: (k) => log.push([clock.now(), k]) }, 99);
    target.entry = new TimerEntry(target, 5);
    wheel.schedule(target.entry, 500);
    advance(clock, wheel, 10_000, 10);
    assert.deepEqual(log, [
      [1500, 5],
      [2500, 5],
      [4500, 5],
      [8500, 5],
      [8510, 99],
    ]);
  });

  it('a throwing target is reported and does not stop the wheel', () => {
    const { clock, wheel, rec } = setup();
    const errors: unknown[] = [];
    wheel.onTargetError = (err) => errors.push(err);
    wheel.schedule(
      new TimerEntry(
        {
          onTimer() {
            throw new Error('boom');
          },
        },
        1,
      ),
      10,
    );
    wheel.schedule(new TimerEntry(rec, 2), 10);
    advance(clock, wheel, 10);
    assert.equal(errors.length, 1);
    assert.deepEqual(rec.fired, [[1010, 2]]);
  });

  it('close() disarms everything and ignores later arming', () => {
    const { clock, wheel, rec } = setup();
    const e = new TimerEntry(rec, 1);
    wheel.schedule(e, 10);
    wheel.close();
    assert.equal(e.armed, false);
    wheel.schedule(e, 10);
    advance(clock, wheel, 100);
    assert.deepEqual(rec.fired, []);
    assert.equal(wheel.size, 0);
  });

  it('an idle wheel catches up without firing anything and times new timers from now', () => {
    const { clock, wheel, rec } = setup();
    clock.time += 10 * 3_600_000;
    wheel.schedule(new TimerEntry(rec, 1), 100);
    advance(clock, wheel, 90);
    assert.deepEqual(rec.fired, []);
    advance(clock, wheel, 10);
    assert.deepEqual(rec.fired, [[1000 + 10 * 3_600_000 + 100, 1]]);
  });

  it('runs by itself on the real clock (one interval, stopped when idle)', async () => {
    const wheel = new TimerWheel({ tickMs: 5 });
    // The wheel's interval is unref'd; keep the loop alive while we wait.
    const keepAlive = setInterval(() => {}, 1000);
    try {
      const order: number[] = [];
      await new Promise<void>((resolve) => {
        const target: TimerTarget = {
          onTimer(kind: number): void {
            order.push(kind);
            if (order.length === 2) resolve();
          },
        };
        wheel.schedule(new TimerEntry(target, 2), 30);
        wheel.schedule(new TimerEntry(target, 1), 10);
      });
      assert.deepEqual(order, [1, 2]);
      assert.equal(wheel.size, 0);
    } finally {
      clearInterval(keepAlive);
      wheel.close();
    }
  });

  it('matches a brute-force model on random schedules, cancels and re-arms', () => {
    const { clock, wheel } = setup(10);
    let seed = 12345;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    let fired: number[] = [];
    const target: TimerTarget = { onTimer: (k) => fired.push(k) };
    const entries = Array.from({ length: 200 }, (_, i) => new TimerEntry(target, i));
    const due = new Map<number, number>(); // kind -> absolute time of the tick it fires at
    let polls = 0;
    const pollAndCheck = (): void => {
      fired = [];
      wheel.poll();
      polls++;
      const expected = [...due].filter(([, t]) => t <= clock.now());
      for (const [k] of expected) due.delete(k);
      // Exactly the due timers fired, in due order.
      assert.deepEqual([...fired].sort((a, b) => a - b), expected.map(([k]) => k).sort((a, b) => a - b));
      const times = fired.map((k) => expected.find(([x]) => x === k)![1]);
      for (let i = 1; i < times.length; i++) assert.ok(times[i - 1]! <= times[i]!, 'fired out of order');
      assert.equal(wheel.size, due.size);
    };
    for (let step = 0; step < 4000; step++) {
      const op = rnd(10);
      const e = entries[rnd(entries.length)]!;
      if (op < 6) {
        const d = [rnd(300), rnd(30_000), rnd(3_000_000), rnd(700_000_000)][rnd(4)]!;
        wheel.schedule(e, d);
        // Due at the tick covering now + d; a zero delay still waits for the next tick.
        const tick = Math.max(Math.ceil((clock.now() + d - 1000) / 10), Math.floor((clock.now() - 1000) / 10) + 1);
        due.set(e.kind, tick * 10 + 1000);
      } else if (op < 7) {
        wheel.cancel(e);
        due.delete(e.kind);
      } else {
        clock.time += [rnd(50), rnd(5_000), rnd(500_000), rnd(50_000_000)][rnd(4)]!;
        pollAndCheck();
      }
    }
    clock.time += 800_000_000;
    pollAndCheck();
    assert.equal(wheel.size, 0);
    assert.ok(polls > 100);
  });
});
