/**
 * RTP/RTCP port pairs from the configured range: RTP on the even port, RTCP on the next
 * odd one (RFC 3550 §11). Pairs are handed out round-robin so a just-released pair is not
 * reused at once (late packets of the old call would land in the new one).
 */
export class PortAllocator {
  readonly min: number;
  readonly pairs: number;
  private readonly used: Uint8Array;
  private cursor: number;
  private inUse: number;

  constructor(min: number, max: number) {
    this.min = min + (min % 2);
    this.pairs = Math.floor((max - this.min + 1) / 2);
    this.used = new Uint8Array(this.pairs);
    this.cursor = 0;
    this.inUse = 0;
  }

  get available(): number {
    return this.pairs - this.inUse;
  }

  /** An RTP port (even), or null when the range is exhausted. */
  allocate(): number | null {
    for (let i = 0; i < this.pairs; i++) {
      const idx = (this.cursor + i) % this.pairs;
      if (this.used[idx] === 0) {
        this.used[idx] = 1;
        this.inUse++;
        this.cursor = (idx + 1) % this.pairs;
        return this.min + idx * 2;
      }
    }
    return null;
  }

  release(rtpPort: number): void {
    const idx = (rtpPort - this.min) / 2;
    if (Number.isInteger(idx) && idx >= 0 && idx < this.pairs && this.used[idx] === 1) {
      this.used[idx] = 0;
      this.inUse--;
    }
  }
}
