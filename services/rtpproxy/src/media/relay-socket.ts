// One relay leg inside a media worker: the RTP socket (even port) and RTCP socket
// (port + 1, RFC 3550 §11) that one party sends to, plus where that party's media goes.
//
// Fast path (per packet): count, maybe latch, then hand the very Buffer dgram gave us to
// the partner leg's socket. No closures, promises or copies are created per packet; the
// message handlers are bound once when the leg opens.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import {
  C_RTCP_BYTES,
  C_RTCP_ERRORS,
  C_RTCP_LAST,
  C_RTCP_PACKETS,
  C_RTP_BYTES,
  C_RTP_ERRORS,
  C_RTP_LAST,
  C_RTP_PACKETS,
  COUNTER_FIELDS,
  type AddressFamily,
} from './relay-protocol.js';
import { answerBindingRequest } from './stun.js';

export interface LatchListener {
  onLatched(leg: RelaySocket, rtcp: boolean, address: string, port: number): void;
}

export class RelaySocket {
  readonly port: number;
  readonly gen: number;
  readonly family: AddressFamily;
  private readonly rtp: Socket;
  private readonly rtcp: Socket;
  private readonly counters: Float64Array;
  private readonly base: number;
  private readonly listener: LatchListener;
  partner: RelaySocket | null;
  /** Destination of packets for this leg's party; port 0 = unknown (dropped, counted). */
  rtpAddr: string;
  rtpPort: number;
  rtcpAddr: string;
  rtcpPort: number;
  /** Symmetric mode: the next packet's source becomes the destination (latching). */
  latch: boolean;
  private rtpLatched: boolean;
  private rtcpLatched: boolean;
  iceUfrag: string | null;
  icePwd: string | null;
  private closed: boolean;

  constructor(port: number, gen: number, family: AddressFamily, slot: number, counters: Float64Array, listener: LatchListener) {
    this.port = port;
    this.gen = gen;
    this.family = family;
    this.counters = counters;
    this.base = slot * COUNTER_FIELDS;
    this.listener = listener;
    this.partner = null;
    this.rtpAddr = '';
    this.rtpPort = 0;
    this.rtcpAddr = '';
    this.rtcpPort = 0;
    this.latch = true;
    this.rtpLatched = false;
    this.rtcpLatched = false;
    this.iceUfrag = null;
    this.icePwd = null;
    this.closed = false;
    const type = family === 4 ? 'udp4' : 'udp6';
    this.rtp = createSocket({ type, ipv6Only: family === 6 });
    this.rtcp = createSocket({ type, ipv6Only: family === 6 });
    this.onRtp = this.onRtp.bind(this);
    this.onRtcp = this.onRtcp.bind(this);
    this.onRtpError = this.onRtpError.bind(this);
    this.onRtcpError = this.onRtcpError.bind(this);
    for (let i = 0; i < COUNTER_FIELDS; i++) counters[this.base + i] = 0;
  }

  /** Binds both sockets; rejects (and closes whatever bound) on failure. */
  async bind(ip: string, recvBufferSize: number): Promise<void> {
    try {
      await bindOne(this.rtp, this.port, ip);
      await bindOne(this.rtcp, this.port + 1, ip);
    } catch (e) {
      this.close();
      throw e;
    }
    if (recvBufferSize > 0) {
      try {
        this.rtp.setRecvBufferSize(recvBufferSize);
        this.rtcp.setRecvBufferSize(recvBufferSize);
      } catch {
        // The kernel caps it at net.core.rmem_max; the default still works.
      }
    }
    this.rtp.on('message', this.onRtp);
    this.rtcp.on('message', this.onRtcp);
    this.rtp.on('error', this.onRtpError);
    this.rtcp.on('error', this.onRtcpError);
  }

  /** New signalling (offer/answer, re-INVITE): new destination, and learn again if symmetric. */
  retarget(rtpAddr: string, rtpPort: number, rtcpAddr: string, rtcpPort: number, latch: boolean): void {
    this.rtpAddr = rtpAddr;
    this.rtpPort = rtpPort;
    this.rtcpAddr = rtcpAddr;
    this.rtcpPort = rtcpPort;
    this.latch = latch;
    this.rtpLatched = false;
    this.rtcpLatched = false;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.partner !== null && this.partner.partner === this) this.partner.partner = null;
    this.partner = null;
    closeQuietly(this.rtp);
    closeQuietly(this.rtcp);
  }

  private onRtp(msg: Buffer, rinfo: RemoteInfo): void {
    const c = this.counters;
    const b = this.base;
    // RFC 7983 §7: bytes 0..3 are STUN (ICE checks), RTP/RTCP start at 128. Checks are
    // answered here and not counted as media.
    if (msg.length > 0 && msg[0] < 4 && this.iceUfrag !== null) {
      this.onStun(this.rtp, msg, rinfo, false);
      return;
    }
    c[b + C_RTP_PACKETS]++;
    c[b + C_RTP_BYTES] += msg.length;
    c[b + C_RTP_LAST] = Date.now();
    if (this.latch && !this.rtpLatched) this.learn(false, rinfo);
    const p = this.partner;
    if (p === null || p.rtpPort === 0) {
      c[b + C_RTP_ERRORS]++;
      return;
    }
    p.rtp.send(msg, p.rtpPort, p.rtpAddr);
  }

  private onRtcp(msg: Buffer, rinfo: RemoteInfo): void {
    const c = this.counters;
    const b = this.base;
    if (msg.length > 0 && msg[0] < 4 && this.iceUfrag !== null) {
      this.onStun(this.rtcp, msg, rinfo, true);
      return;
    }
    c[b + C_RTCP_PACKETS]++;
    c[b + C_RTCP_BYTES] += msg.length;
    c[b + C_RTCP_LAST] = Date.now();
    if (this.latch && !this.rtcpLatched) this.learn(true, rinfo);
    const p = this.partner;
    if (p === null || p.rtcpPort === 0) {
      c[b + C_RTCP_ERRORS]++;
      return;
    }
    p.rtcp.send(msg, p.rtcpPort, p.rtcpAddr);
  }

  /**
   * Symmetric RTP latching (the NAT case, RFC 4961 §3 / RFC 7362 §4.1): a party behind NAT
   * announces a private address in SDP, but its packets arrive from the NAT's public
   * binding; sending back to that source is the only way through the NAT.
   */
  private learn(rtcp: boolean, rinfo: RemoteInfo): void {
    if (rtcp) {
      this.rtcpLatched = true;
      if (this.rtcpAddr === rinfo.address && this.rtcpPort === rinfo.port) return;
      this.rtcpAddr = rinfo.address;
      this.rtcpPort = rinfo.port;
    } else {
      this.rtpLatched = true;
      if (this.rtpAddr === rinfo.address && this.rtpPort === rinfo.port) return;
      this.rtpAddr = rinfo.address;
      this.rtpPort = rinfo.port;
      // RFC 3550 §11: without a separate RTCP destination yet, RTCP goes to RTP port + 1.
      if (!this.rtcpLatched) {
        this.rtcpAddr = rinfo.address;
        this.rtcpPort = rinfo.port + 1;
      }
    }
    this.listener.onLatched(this, rtcp, rinfo.address, rinfo.port);
  }

  private onStun(sock: Socket, msg: Buffer, rinfo: RemoteInfo, rtcp: boolean): void {
    const check = answerBindingRequest(msg, this.iceUfrag ?? '', this.icePwd ?? '', rinfo.address, rinfo.port, this.family);
    if (check === null) {
      this.counters[this.base + (rtcp ? C_RTCP_ERRORS : C_RTP_ERRORS)]++;
      return;
    }
    sock.send(check.response, rinfo.port, rinfo.address);
    // RFC 8445 §7.3.1.5: a lite agent uses the pair the controlling agent nominates.
    if (check.useCandidate || (rtcp ? !this.rtcpLatched : !this.rtpLatched)) this.learn(rtcp, rinfo);
  }

  private onRtpError(): void {
    this.counters[this.base + C_RTP_ERRORS]++;
  }

  private onRtcpError(): void {
    this.counters[this.base + C_RTCP_ERRORS]++;
  }
}

function bindOne(sock: Socket, port: number, ip: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error): void => reject(e);
    sock.once('error', onError);
    sock.bind({ port, address: ip, exclusive: true }, () => {
      sock.removeListener('error', onError);
      resolve();
    });
  });
}

function closeQuietly(sock: Socket): void {
  try {
    sock.close();
  } catch {
    // not bound or already closed
  }
}
