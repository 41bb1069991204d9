/**
 * Binary min-heap of binding expiries for the LocationStore's sweep: the sweep pops only what is
 * due instead of walking every binding each second (1,000,000 registrations made that walk, and
 * the copies of every list it took, the cost of a second of idle time).
 *
 * An entry names a binding by (aor, ruid) — strings the stored binding holds anyway, so an entry
 * costs its expiry and two references (parallel arrays, no object per entry) and never keeps a
 * replaced binding alive. Entries are not updated in place: a refresh pushes a new one and the
 * old one is recognised as stale when it comes out (the binding's expiry moved, or it is gone).
 */
export class ExpiryHeap {
  private times: number[] = [];
  private aors: string[] = [];
  private ruids: string[] = [];

  get size(): number {
    return this.times.length;
  }

  /** Expiry of the earliest entry (epoch ms), Infinity when empty. */
  peekTime(): number {
    return this.times.length === 0 ? Infinity : this.times[0]!;
  }

  push(time: number, aor: string, ruid: string): void {
    const t = this.times;
    let i = t.length;
    t.push(time);
    this.aors.push(aor);
    this.ruids.push(ruid);
    // Sift up.
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (t[parent]! <= time) break;
      this.move(parent, i);
      i = parent;
    }
    this.set(i, time, aor, ruid);
  }

  /** Removes the earliest entry and hands its aor and ruid to `into`; false when empty. */
  pop(into: { aor: string; ruid: string }): boolean {
    const t = this.times;
    const n = t.length;
    if (n === 0) return false;
    into.aor = this.aors[0]!;
    into.ruid = this.ruids[0]!;
    const lastTime = t.pop()!;
    const lastAor = this.aors.pop()!;
    const lastRuid = this.ruids.pop()!;
    if (n === 1) return true;
    // Sift the last entry down from the root.
    const m = n - 1;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= m) break;
      const r = l + 1;
      const c = r < m && t[r]! < t[l]! ? r : l;
      if (t[c]! >= lastTime) break;
      this.move(c, i);
      i = c;
    }
    this.set(i, lastTime, lastAor, lastRuid);
    return true;
  }

  /** Replaces every entry (a rebuild that drops the stale ones). */
  rebuild(entries: Iterable<{ expires: number; aor: string; ruid: string }>): void {
    this.times = [];
    this.aors = [];
    this.ruids = [];
    for (const e of entries) this.push(e.expires, e.aor, e.ruid);
  }

  private move(from: number, to: number): void {
    this.times[to] = this.times[from]!;
    this.aors[to] = this.aors[from]!;
    this.ruids[to] = this.ruids[from]!;
  }

  private set(i: number, time: number, aor: string, ruid: string): void {
    this.times[i] = time;
    this.aors[i] = aor;
    this.ruids[i] = ruid;
  }
}
