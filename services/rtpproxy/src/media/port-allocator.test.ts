import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PortAllocator } from './port-allocator.js';
import { splitPortRange } from './relay-worker-pool.js';

describe('splitPortRange', () => {
  it('splits into contiguous even-aligned slices of whole RTP/RTCP pairs', () => {
    assert.deepEqual(splitPortRange(30000, 30019, 2), [
      { firstPort: 30000, lastPort: 30008 },
      { firstPort: 30010, lastPort: 30018 },
    ]);
    // odd minimum is rounded up; a last RTP port needs its RTCP port inside the range
    assert.deepEqual(splitPortRange(30001, 30010, 1), [{ firstPort: 30002, lastPort: 30008 }]);
    assert.deepEqual(splitPortRange(30000, 30013, 3), [
      { firstPort: 30000, lastPort: 30004 },
      { firstPort: 30006, lastPort: 30008 },
      { firstPort: 30010, lastPort: 30012 },
    ]);
  });

  it('refuses a range with fewer pairs than workers', () => {
    assert.throws(() => splitPortRange(30000, 30003, 3), RangeError);
  });
});

describe('PortAllocator', () => {
  it('hands out even ports of the worker slice and reuses freed ports last (FIFO)', () => {
    const a = new PortAllocator(splitPortRange(30000, 30007, 1));
    assert.equal(a.allocate(0), 30000);
    assert.equal(a.allocate(0), 30002);
    a.release(0, 30000);
    assert.equal(a.allocate(0), 30004);
    assert.equal(a.allocate(0), 30006);
    assert.equal(a.allocate(0), 30000);
    assert.equal(a.allocate(0), null);
    assert.equal(a.totalFree(), 0);
  });

  it('balances new calls onto the worker with most free pairs', () => {
    const a = new PortAllocator(splitPortRange(30000, 30015, 2));
    assert.equal(a.leastLoadedWorker(), 0);
    a.allocate(0);
    assert.equal(a.leastLoadedWorker(), 1);
  });

  it('rejects foreign ports and double release', () => {
    const a = new PortAllocator(splitPortRange(30000, 30015, 2));
    assert.throws(() => a.release(0, 30010), RangeError);
    assert.throws(() => a.release(0, 30001), RangeError);
    assert.throws(() => a.release(0, 30000), RangeError); // never allocated: ring is full
  });
});
