import { canonicalHeaderName, formatHeaderName } from './header-name.js';
import { splitCommas } from './chars.js';

/**
 * Headers whose parsed values messages cache. Each has its own mutation counter, so changing
 * Max-Forwards or adding a Via does not throw away the parsed From, To, CSeq and Call-ID.
 */
export const HEADER_KIND: Readonly<Record<string, number>> = Object.freeze({
  'call-id': 0,
  cseq: 1,
  from: 2,
  to: 3,
  via: 4,
  'max-forwards': 5,
  'content-length': 6,
  contact: 7,
  route: 8,
  'record-route': 9,
  expires: 10,
});
export const HEADER_KIND_COUNT = 11;

/**
 * The ordered header lines of a message (RFC 3261 §7.3).
 *
 * Every line keeps, next to its canonical name and unfolded value, the exact text it was
 * received with (`raw`: name spelling, folding, spacing, line terminator). Untouched lines
 * serialize byte-exact from `raw`; a line that is set or added has `raw === null` and
 * serializes as `Name: value`. Parallel arrays instead of one object per line keep parsing
 * cheap. `version` bumps on every mutation so messages can invalidate parsed-value caches.
 */
export class HeaderList {
  /** @internal canonical lowercase names */
  readonly lnames: string[];
  /** @internal unfolded, trimmed values */
  readonly vals: string[];
  /** @internal received text of the line incl. its terminator, or null when (re)written */
  readonly raws: (string | null)[];
  private _version: number;
  /** @internal per-kind mutation counters, indexed by HEADER_KIND */
  readonly _kv: number[];

  constructor() {
    this.lnames = [];
    this.vals = [];
    this.raws = [];
    this._version = 0;
    this._kv = new Array<number>(HEADER_KIND_COUNT).fill(0);
  }

  /** @internal records a mutation of the lines named `lname` */
  private bump(lname: string): void {
    this._version++;
    const k = HEADER_KIND[lname];
    if (k !== undefined) this._kv[k]!++;
  }

  /** Builds a list from `[name, value]` pairs (any spelling, compact forms allowed). */
  static from(pairs: Iterable<readonly [string, string]>): HeaderList {
    const h = new HeaderList();
    for (const [n, v] of pairs) h.append(n, v);
    return h;
  }

  get version(): number {
    return this._version;
  }

  get length(): number {
    return this.lnames.length;
  }

  /** @internal parser fast path: a received line. */
  pushRaw(lname: string, value: string, raw: string): void {
    this.lnames.push(lname);
    this.vals.push(value);
    this.raws.push(raw);
  }

  private indexOf(lname: string, from = 0): number {
    const ln = this.lnames;
    for (let i = from; i < ln.length; i++) if (ln[i] === lname) return i;
    return -1;
  }

  /** First line's value (any case / compact form of the name). */
  get(name: string): string | undefined {
    const i = this.indexOf(canonicalHeaderName(name));
    return i < 0 ? undefined : this.vals[i];
  }

  /** Every line's value, in order. */
  getAll(name: string): string[] {
    const lname = canonicalHeaderName(name);
    const out: string[] = [];
    const ln = this.lnames;
    for (let i = 0; i < ln.length; i++) if (ln[i] === lname) out.push(this.vals[i]);
    return out;
  }

  /** Number of lines with this name. */
  count(name: string): number {
    const lname = canonicalHeaderName(name);
    let n = 0;
    for (const l of this.lnames) if (l === lname) n++;
    return n;
  }

  /**
   * Every comma-separated value over all lines (RFC 3261 §7.3.1), commas inside quoted
   * strings and <...> respected. Only meaningful for list-valued headers (Via, Contact,
   * Route, Record-Route, Allow, Supported, Require...); not for Date or auth headers.
   */
  values(name: string): string[] {
    const lname = canonicalHeaderName(name);
    const out: string[] = [];
    const ln = this.lnames;
    for (let i = 0; i < ln.length; i++) if (ln[i] === lname) splitCommas(this.vals[i], out);
    return out;
  }

  has(name: string): boolean {
    return this.indexOf(canonicalHeaderName(name)) >= 0;
  }

  /** Replaces all lines of `name` with one line at the position of the first (or appends). */
  set(name: string, value: string): void {
    const lname = canonicalHeaderName(name);
    const first = this.indexOf(lname);
    if (first < 0) {
      this.append(lname, value);
      return;
    }
    this.vals[first] = value;
    this.raws[first] = null;
    for (let i = this.lnames.length - 1; i > first; i--) if (this.lnames[i] === lname) this.removeAt(i);
    this.bump(lname);
  }

  append(name: string, value: string): void {
    const lname = canonicalHeaderName(name);
    this.lnames.push(lname);
    this.vals.push(value);
    this.raws.push(null);
    this.bump(lname);
  }

  /** Inserts before the first line of the same name, or at the top (Via, Record-Route). */
  prepend(name: string, value: string): void {
    const lname = canonicalHeaderName(name);
    const i = this.indexOf(lname);
    this.insertAt(i < 0 ? 0 : i, lname, value);
  }

  /** Inserts at position `index` (0 = top); for callers that need an exact place. */
  insertAt(index: number, name: string, value: string): void {
    const i = Math.max(0, Math.min(index, this.lnames.length));
    const lname = canonicalHeaderName(name);
    this.lnames.splice(i, 0, lname);
    this.vals.splice(i, 0, value);
    this.raws.splice(i, 0, null);
    this.bump(lname);
  }

  /** Removes all lines of `name`. */
  remove(name: string): void {
    const lname = canonicalHeaderName(name);
    let changed = false;
    for (let i = this.lnames.length - 1; i >= 0; i--) {
      if (this.lnames[i] === lname) {
        this.removeAt(i);
        changed = true;
      }
    }
    if (changed) this.bump(lname);
  }

  /**
   * Pops the first comma-separated value of the first line of `name` (Via, Route): the
   * line goes when it held one value, else it keeps the rest. Returns the value popped.
   */
  removeFirstValue(name: string): string | undefined {
    const lname = canonicalHeaderName(name);
    const i = this.indexOf(lname);
    if (i < 0) return undefined;
    const parts: string[] = [];
    splitCommas(this.vals[i], parts);
    const first = parts[0];
    if (parts.length <= 1) this.removeAt(i);
    else {
      this.vals[i] = parts.slice(1).join(', ');
      this.raws[i] = null;
    }
    this.bump(lname);
    return first;
  }

  /**
   * Replaces the first comma-separated value of the first line of `name` (e.g. the top
   * Via after adding received/rport); other values on that line are kept.
   */
  replaceFirstValue(name: string, value: string): void {
    const lname = canonicalHeaderName(name);
    const i = this.indexOf(lname);
    if (i < 0) {
      this.append(lname, value);
      return;
    }
    const parts: string[] = [];
    splitCommas(this.vals[i], parts);
    parts[0] = value;
    this.vals[i] = parts.length === 1 ? value : parts.join(', ');
    this.raws[i] = null;
    this.bump(lname);
  }

  private removeAt(i: number): void {
    this.lnames.splice(i, 1);
    this.vals.splice(i, 1);
    this.raws.splice(i, 1);
  }

  /**
   * Every line as it serializes (received text, or `Name: value` CRLF), joined: one flat
   * string that `fromLines` turns back into an equal list. Used to park the headers of a
   * message that only waits out transaction timers (one string instead of arrays of slices).
   */
  toLines(): string {
    let s = '';
    for (let i = 0; i < this.lnames.length; i++) {
      const raw = this.raws[i];
      s += raw !== null ? raw : formatHeaderName(this.lnames[i]) + ': ' + this.vals[i] + '\r\n';
    }
    return s;
  }

  /** Rebuilds a list from `toLines` output; each line keeps its exact text as `raw`. */
  static fromLines(text: string): HeaderList {
    const h = new HeaderList();
    let p = 0;
    const n = text.length;
    while (p < n) {
      // A line ends at LF; a following line starting with SP/HT continues it (folding, §7.3.1).
      let e = text.indexOf('\n', p);
      if (e < 0) e = n - 1;
      while (e + 1 < n && (text.charCodeAt(e + 1) === 0x20 || text.charCodeAt(e + 1) === 0x09)) {
        const next = text.indexOf('\n', e + 1);
        e = next < 0 ? n - 1 : next;
      }
      const raw = text.slice(p, e + 1);
      const colon = raw.indexOf(':');
      if (colon > 0) {
        const value = raw.slice(colon + 1).replace(/[ \t]*\r?\n[ \t]*/g, ' ').trim();
        h.pushRaw(canonicalHeaderName(raw.slice(0, colon).trim()), value, raw);
      }
      p = e + 1;
    }
    return h;
  }

  /** Deep copy (strings are immutable; raw text is kept so the copy serializes the same). */
  clone(): HeaderList {
    const h = new HeaderList();
    for (let i = 0; i < this.lnames.length; i++) {
      h.lnames.push(this.lnames[i]);
      h.vals.push(this.vals[i]);
      h.raws.push(this.raws[i]);
    }
    for (let k = 0; k < HEADER_KIND_COUNT; k++) h._kv[k] = this._kv[k]!;
    return h;
  }

  /** Lines in order as `{ name, value }`; `name` is the canonical lowercase name. */
  *[Symbol.iterator](): Iterator<{ name: string; value: string }> {
    for (let i = 0; i < this.lnames.length; i++) yield { name: this.lnames[i], value: this.vals[i] };
  }
}
