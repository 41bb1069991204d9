import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Binding } from './binding.js';
import { ExpiryHeap } from './expiry-heap.js';
import { LocationStore, type LocationObserver } from './location-store.js';

const T0 = 1_800_000_000_000;

function binding(ruid: string, o: Partial<Binding> = {}): Binding {
  return {
    ruid, aor: 'alice@example.com', contact: `sip:alice@10.0.0.${ruid.length}:5060;ruid=${ruid}`, received: null, path: null,
    expires: T0 + 3_600_000, q: -1, callId: `call-${ruid}`, cseq: 1, lastModified: T0, flags: 0, cflags: 0,
    userAgent: 'Phone/1.0', socket: 'udp:192.0.2.1:5060', methods: null, instance: null, regId: 0, ...o,
  };
}

function recorder(): LocationObserver & { events: string[] } {
  const events: string[] = [];
  return { events, onUpsert: (b) => events.push(`upsert ${b.ruid}`), onDelete: (b) => events.push(`delete ${b.ruid}`) };
}

/** Deterministic pseudo-random numbers (a test that fails must fail the same way again). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('LocationStore', () => {
  test('keeps its own copy: later changes to the object handed in do not reach the stored binding', () => {
    const store = new LocationStore(() => T0);
    const b = binding('r1');
    store.upsert(b);
    b.contact = 'sip:mallory@203.0.113.9';
    b.expires = T0 - 1;
    const [stored] = store.lookup('alice@example.com');
    assert.deepEqual(stored, binding('r1'));
  });

  test('every field round-trips, including non-latin1 text from the database or the admin API', () => {
    const store = new LocationStore(() => T0);
    const b = binding('r1', {
      aor: 'zoë@example.com', contact: 'sip:zoë@example.com', received: 'sip:198.51.100.2:4000;transport=udp', path: '<sip:edge;lr>',
      q: 0.5, cseq: 7, flags: 3, cflags: 192, userAgent: 'Téléphone ☎', socket: null, methods: 5, instance: '<urn:uuid:1>', regId: 2,
    });
    store.upsert(b);
    assert.deepEqual([...store.all()], [b]);
  });

  test('lookup: live bindings only, highest q first, then the most recently refreshed', () => {
    const store = new LocationStore(() => T0);
    store.upsert(binding('low', { q: 0.1 }));
    store.upsert(binding('old', { q: 0.5, lastModified: T0 - 10 }));
    store.upsert(binding('new', { q: 0.5, lastModified: T0 - 5 }));
    store.upsert(binding('gone', { q: 1, expires: T0 }));
    assert.deepEqual(store.lookup('alice@example.com').map((b) => b.ruid), ['new', 'old', 'low']);
    // The registrar matches against expired-but-unswept bindings too (RFC 3261 §10.3 step 7).
    assert.equal(store.bindingsOf('alice@example.com').length, 4);
    assert.deepEqual(store.lookup('bob@example.com'), []);
    assert.deepEqual(store.bindingsOf('bob@example.com'), []);
  });

  test('upsert replaces the binding with the same ruid; size and aorCount follow adds and removes', () => {
    const store = new LocationStore(() => T0);
    const obs = recorder();
    store.setObserver(obs);
    store.upsert(binding('r1'));
    store.upsert(binding('r1', { cseq: 2 }));
    assert.equal(store.size, 1);
    assert.equal(store.bindingsOf('alice@example.com')[0]!.cseq, 2);
    store.upsert(binding('r2'));
    store.upsert(binding('r3'));
    store.upsert(binding('b1', { aor: 'bob@example.com' }));
    assert.equal(store.size, 4);
    assert.equal(store.aorCount, 2);
    assert.equal(store.remove(binding('r2')), true);
    assert.equal(store.remove(binding('r2')), false);
    assert.equal(store.remove(binding('nobody', { aor: 'carol@example.com' })), false);
    assert.equal(store.remove(binding('r3')), true);
    assert.deepEqual(store.lookup('alice@example.com').map((b) => b.ruid), ['r1']);
    store.upsert(binding('r4'));
    assert.deepEqual(store.lookup('alice@example.com').map((b) => b.ruid).sort(), ['r1', 'r4']);
    assert.equal(store.removeAor('alice@example.com'), 2);
    assert.equal(store.removeAor('alice@example.com'), 0);
    assert.equal(store.size, 1);
    assert.equal(store.aorCount, 1);
    assert.deepEqual(obs.events, [
      'upsert r1', 'upsert r1', 'upsert r2', 'upsert r3', 'upsert b1', 'delete r2', 'delete r3', 'upsert r4', 'delete r1', 'delete r4',
    ]);
  });

  test('sweep removes what expired, tells the observer, not the replicator', () => {
    let now = T0;
    const store = new LocationStore(() => now);
    const obs = recorder();
    const rep = recorder();
    store.setObserver(obs);
    store.upsert(binding('a', { expires: T0 + 1_000 }));
    store.upsert(binding('b', { expires: T0 + 2_000 }));
    store.upsert(binding('c', { aor: 'bob@example.com', expires: T0 + 1_000 }));
    store.setReplicator(rep);
    assert.equal(store.sweep(), 0);
    now = T0 + 1_000;
    assert.equal(store.sweep(), 2);
    assert.deepEqual(store.bindingsOf('alice@example.com').map((b) => b.ruid), ['b']);
    assert.equal(store.aorCount, 1);
    now = T0 + 5_000;
    assert.equal(store.sweep(), 1);
    assert.equal(store.size, 0);
    assert.equal(store.aorCount, 0);
    assert.deepEqual(obs.events.filter((e) => e.startsWith('delete')).sort(), ['delete a', 'delete b', 'delete c']);
    assert.deepEqual(rep.events, []);
  });

  test('a binding refreshed before it expires is not swept at its old expiry; one shortened is swept at its new one', () => {
    let now = T0;
    const store = new LocationStore(() => now);
    store.upsert(binding('long', { expires: T0 + 1_000 }));
    store.upsert(binding('short', { expires: T0 + 9_000 }));
    store.upsert(binding('long', { expires: T0 + 9_000 }));
    store.upsert(binding('short', { expires: T0 + 500 }));
    now = T0 + 600;
    assert.equal(store.sweep(), 1);
    assert.deepEqual(store.bindingsOf('alice@example.com').map((b) => b.ruid), ['long']);
    now = T0 + 1_000;
    assert.equal(store.sweep(), 0);
    now = T0 + 9_000;
    assert.equal(store.sweep(), 1);
    assert.equal(store.size, 0);
  });

  test('a binding removed and registered again under the same ruid expires by its new expiry only', () => {
    let now = T0;
    const store = new LocationStore(() => now);
    store.upsert(binding('r', { expires: T0 + 1_000 }));
    store.remove(binding('r'));
    store.upsert(binding('r', { expires: T0 + 5_000 }));
    now = T0 + 2_000;
    assert.equal(store.sweep(), 0);
    assert.equal(store.size, 1);
  });

  test('sweeps match a full scan over many bindings, refreshes and removals (random, seeded)', () => {
    const rnd = lcg(13);
    let now = T0;
    const store = new LocationStore(() => now);
    const model = new Map<string, number>();
    for (let step = 0; step < 4_000; step++) {
      const ruid = `r${Math.floor(rnd() * 500)}`;
      const aor = `u${Math.floor(rnd() * 120)}@example.com`;
      const key = `${aor} ${ruid}`;
      const r = rnd();
      if (r < 0.7) {
        const expires = now + Math.floor(rnd() * 20_000);
        store.upsert(binding(ruid, { aor, expires }));
        model.set(key, expires);
      } else if (r < 0.8) {
        assert.equal(store.remove(binding(ruid, { aor })), model.delete(key));
      } else {
        now += Math.floor(rnd() * 3_000);
        let expected = 0;
        for (const [k, e] of model) {
          if (e <= now) {
            model.delete(k);
            expected++;
          }
        }
        assert.equal(store.sweep(), expected);
      }
      assert.equal(store.size, model.size);
    }
    const held = [...store.all()].map((b) => `${b.aor} ${b.ruid}`).sort();
    assert.deepEqual(held, [...model.keys()].sort());
  });

  test('a binding refreshed thousands of times stays one binding and expires once', () => {
    let now = T0;
    const store = new LocationStore(() => now);
    for (let i = 1; i <= 5_000; i++) {
      now = T0 + i;
      store.upsert(binding('r', { expires: now + 60_000, cseq: i }));
      if (i % 100 === 0) assert.equal(store.sweep(), 0);
    }
    assert.equal(store.size, 1);
    now = T0 + 5_000 + 60_000;
    assert.equal(store.sweep(), 1);
    assert.equal(store.size, 0);
  });

  test('replicated changes apply without telling the observer or the replicator', () => {
    const store = new LocationStore(() => T0);
    const obs = recorder();
    const rep = recorder();
    store.setObserver(obs);
    store.setReplicator(rep);
    store.applyReplicated('upsert', binding('r1'));
    store.applyReplicated('upsert', binding('r2'));
    store.applyReplicated('delete', binding('r1'));
    store.applyReplicated('delete', binding('unknown'));
    assert.deepEqual(store.lookup('alice@example.com').map((b) => b.ruid), ['r2']);
    assert.deepEqual(obs.events, []);
    assert.deepEqual(rep.events, []);
    store.upsert(binding('r3'));
    assert.deepEqual(rep.events, ['upsert r3']);
  });

  test('load does not tell the observer', () => {
    const store = new LocationStore(() => T0);
    const obs = recorder();
    store.setObserver(obs);
    store.load([binding('r1'), binding('r2', { aor: 'bob@example.com' })]);
    assert.equal(store.size, 2);
    assert.deepEqual(obs.events, []);
  });
});

describe('ExpiryHeap', () => {
  test('pops in expiry order whatever the push order (random, seeded)', () => {
    const rnd = lcg(7);
    const heap = new ExpiryHeap();
    const times: number[] = [];
    for (let i = 0; i < 2_000; i++) {
      const t = Math.floor(rnd() * 1_000);
      times.push(t);
      heap.push(t, `aor${i}`, `ruid${i}`);
    }
    assert.equal(heap.size, 2_000);
    const out: number[] = [];
    const into = { aor: '', ruid: '' };
    while (heap.size > 0) {
      const t = heap.peekTime();
      assert.equal(heap.pop(into), true);
      assert.equal(times[Number(into.ruid.slice(4))], t);
      out.push(t);
    }
    assert.deepEqual(out, [...times].sort((a, b) => a - b));
    assert.equal(heap.pop(into), false);
    assert.equal(heap.peekTime(), Infinity);
  });
});
