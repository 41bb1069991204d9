import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MediaClock, type PacedStream } from './media-clock.js';

class Stream implements PacedStream {
  nextFrame = 0;
  frames: number[] = [];
  onMediaFrame(f: number): void {
    this.frames.push(f);
  }
}

describe('MediaClock (one timer, 20 ms grid)', () => {
  it('gives every stream one frame per grid instant, catching up after a late tick', () => {
    let now = 1000;
    const clock = new MediaClock(() => now);
    const a = new Stream();
    const b = new Stream();
    clock.add(a);
    now += 20;
    clock.add(b);
    clock.tick();
    assert.deepEqual(a.frames, [1]);
    assert.deepEqual(b.frames, []);
    now += 63; // a late tick: frames 2, 3, 4 are due
    clock.tick();
    assert.deepEqual(a.frames, [1, 2, 3, 4]);
    assert.deepEqual(b.frames, [2, 3, 4]);
    assert.equal(clock.stats.framesSent, 7);
    assert.ok(Math.abs(clock.stats.maxLatenessMs - 3) < 1e-9);
    clock.close();
  });

  it('a stream far behind skips frames instead of bursting them', () => {
    let now = 0;
    const clock = new MediaClock(() => now);
    const a = new Stream();
    clock.add(a);
    now = 20 * 50;
    clock.tick();
    assert.deepEqual(a.frames, [50]);
    assert.equal(clock.stats.framesSkipped, 49);
    clock.close();
  });

  it('a stream removed during its frame sends nothing more', () => {
    let now = 0;
    const clock = new MediaClock(() => now);
    const s: PacedStream & { n: number } = {
      nextFrame: 0,
      n: 0,
      onMediaFrame() {
        this.n++;
        clock.remove(this);
      },
    };
    clock.add(s);
    now = 100;
    clock.tick();
    assert.equal(s.n, 1);
    assert.equal(clock.size, 0);
    clock.close();
  });
});
