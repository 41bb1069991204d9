/**
 * The transports a worker thread's proxy stack sees: each mirrors one socket the main thread
 * owns (same protocol, local and advertised address), and sending posts the bytes to the main
 * thread, which writes them on that socket. So responses leave from the address and port the
 * request arrived on (RFC 3581 symmetric response), whichever worker built them.
 */
import type { Transport, TransportAddress, TransportProtocol } from '@voip/sip';
import type { SharedUdpSocket } from '@voip/udp-native';

/** What the main thread tells a worker about one of its sockets. */
export interface SocketDescriptor {
  index: number;
  protocol: TransportProtocol;
  local: TransportAddress;
  advertised: { host: string; port: number };
  reliable: boolean;
  /**
   * udpIo native: the socket every worker reads (through its receiver thread) and writes
   * itself; the worker attaches a NativeUdpTransport instead of a RemoteTransport.
   */
  shared?: SharedUdpSocket;
}

/** Worker -> main: write these bytes on socket `i`. */
export interface SendCommand {
  t: 'send';
  i: number;
  b: Uint8Array;
  a: string;
  p: number;
  c: number | null;
}

export class RemoteTransport implements Transport {
  readonly protocol: TransportProtocol;
  readonly local: TransportAddress;
  readonly advertised: { host: string; port: number };
  readonly reliable: boolean;
  readonly index: number;

  constructor(
    d: SocketDescriptor,
    /** The batching channel to the main thread (BatchPort). */
    private readonly out: { post(m: SendCommand): void },
  ) {
    this.index = d.index;
    this.protocol = d.protocol;
    this.local = d.local;
    this.advertised = d.advertised;
    this.reliable = d.reliable;
  }

  send(buf: Buffer, address: string, port: number, connectionId?: number | null): void {
    const cmd: SendCommand = { t: 'send', i: this.index, b: buf, a: address, p: port, c: connectionId ?? null };
    this.out.post(cmd);
  }

  async close(): Promise<void> {
    // The socket is the main thread's; it closes it.
  }
}
