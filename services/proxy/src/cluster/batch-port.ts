/**
 * Batches messages to one thread: everything posted within one turn of the event loop goes as a
 * single postMessage at the end of the turn (setImmediate runs after the poll phase has read
 * every ready socket). Each postMessage wakes the receiving thread; under load one wake-up now
 * carries many SIP messages instead of one.
 */
export interface PostTarget {
  postMessage(value: unknown): void;
}

export class BatchPort<T> {
  private pending: T[] = [];
  private scheduled = false;
  private readonly flushBound: () => void;

  constructor(private readonly target: PostTarget) {
    this.flushBound = this.flush.bind(this);
  }

  post(m: T): void {
    this.pending.push(m);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushBound);
    }
  }

  flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.target.postMessage(batch);
  }
}
