/**
 * A minimal libpcap file writer for SIPp's play_pcap_audio: Ethernet (DLT_EN10MB) + IPv4 +
 * UDP frames carrying RTP, with the capture timestamps SIPp replays the packets at. SIPp
 * rewrites addresses and ports to the call's media, so the ones written here are placeholders.
 */
import { writeFileSync } from 'node:fs';

export interface PcapPacket {
  /** Seconds since the start of the capture. */
  time: number;
  payload: Buffer;
}

function ipChecksum(h: Buffer): number {
  let sum = 0;
  for (let i = 0; i < h.length; i += 2) sum += h.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export function encodePcap(packets: readonly PcapPacket[]): Buffer {
  const global = Buffer.alloc(24);
  global.writeUInt32LE(0xa1b2c3d4, 0); // magic, microsecond timestamps
  global.writeUInt16LE(2, 4);
  global.writeUInt16LE(4, 6);
  global.writeInt32LE(0, 8);
  global.writeUInt32LE(0, 12);
  global.writeUInt32LE(65535, 16); // snaplen
  global.writeUInt32LE(1, 20); // LINKTYPE_ETHERNET
  const parts: Buffer[] = [global];
  const base = 1_700_000_000;
  for (const p of packets) {
    const udpLen = 8 + p.payload.length;
    const ipLen = 20 + udpLen;
    const frame = Buffer.alloc(14 + ipLen);
    // Ethernet: locally administered MACs, EtherType IPv4.
    Buffer.from([0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1]).copy(frame, 0);
    frame.writeUInt16BE(0x0800, 12);
    const ip = frame.subarray(14, 34);
    ip[0] = 0x45;
    ip.writeUInt16BE(ipLen, 2);
    ip[8] = 64; // TTL
    ip[9] = 17; // UDP
    Buffer.from([127, 0, 0, 1]).copy(ip, 12);
    Buffer.from([127, 0, 0, 1]).copy(ip, 16);
    ip.writeUInt16BE(ipChecksum(ip), 10);
    frame.writeUInt16BE(6000, 34);
    frame.writeUInt16BE(6002, 36);
    frame.writeUInt16BE(udpLen, 38);
    frame.writeUInt16BE(0, 40); // no UDP checksum (allowed over IPv4)
    p.payload.copy(frame, 42);
    const rec = Buffer.alloc(16);
    const usec = Math.round(p.time * 1e6);
    rec.writeUInt32LE(base + Math.floor(usec / 1e6), 0);
    rec.writeUInt32LE(usec % 1e6, 4);
    rec.writeUInt32LE(frame.length, 8);
    rec.writeUInt32LE(frame.length, 12);
    parts.push(rec, frame);
  }
  return Buffer.concat(parts);
}

export function writePcap(path: string, packets: readonly PcapPacket[]): void {
  writeFileSync(path, encodePcap(packets));
}

function rtp(pt: number, marker: boolean, seq: number, ts: number, ssrc: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(12);
  h[0] = 0x80;
  h[1] = (marker ? 0x80 : 0) | pt;
  h.writeUInt16BE(seq & 0xffff, 2);
  h.writeUInt32BE(ts >>> 0, 4);
  h.writeUInt32BE(ssrc >>> 0, 8);
  return Buffer.concat([h, payload]);
}

/** G.711 bytes (8 kHz, one byte per sample) as 20 ms RTP packets. */
export function g711Packets(encoded: Buffer, pt: number, ssrc = 0x1234abcd): PcapPacket[] {
  const out: PcapPacket[] = [];
  for (let i = 0, n = 0; i + 160 <= encoded.length; i += 160, n++) {
    out.push({ time: n * 0.02, payload: rtp(pt, n === 0, 1000 + n, 16000 + n * 160, ssrc, encoded.subarray(i, i + 160)) });
  }
  return out;
}

/**
 * One RFC 4733 event (§2.5.1): a marked first packet, updates every 50 ms with growing
 * duration, and the end packet sent three times (§2.5.1.4), all with the event's timestamp.
 */
export function dtmfPackets(event: number, pt: number, durationMs = 200, ssrc = 0x1234abcd): PcapPacket[] {
  const out: PcapPacket[] = [];
  // Each digit's pcap carries its own event timestamp, as successive key presses do.
  const ts = 320000 + event * 16000;
  const steps = Math.max(1, Math.round(durationMs / 50));
  let seq = 5000;
  for (let i = 1; i <= steps; i++) {
    const body = Buffer.from([event, 10, 0, 0]);
    body.writeUInt16BE(i * 400, 2);
    out.push({ time: (i - 1) * 0.05, payload: rtp(pt, i === 1, seq++, ts, ssrc, body) });
  }
  for (let k = 0; k < 3; k++) {
    const body = Buffer.from([event, 0x80 | 10, 0, 0]);
    body.writeUInt16BE(steps * 400, 2);
    out.push({ time: steps * 0.05 + k * 0.02, payload: rtp(pt, false, seq++, ts, ssrc, body) });
  }
  return out;
}
