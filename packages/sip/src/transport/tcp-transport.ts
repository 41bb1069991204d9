import net from 'node:net';
import { StreamTransport } from './stream-transport.js';
import type { StreamTransportOptions } from './stream-transport.js';
import type { ListenSpec, TransportHost } from './types.js';

export type TcpTransportOptions = StreamTransportOptions;

/**
 * SIP over TCP (RFC 3261 §18): the stream transport on plain `node:net` sockets. Framing,
 * connection reuse, aliases and idle timeouts live in StreamTransport.
 */
export class TcpTransport extends StreamTransport {
  readonly connectEvent = 'connect' as const;

  private constructor(host: TransportHost, server: net.Server, spec: ListenSpec, family: 4 | 6, opts: TcpTransportOptions) {
    super('TCP', host, server, spec, family, opts);
    server.on('connection', this.accept.bind(this));
  }

  static async open(host: TransportHost, spec: ListenSpec, opts: TcpTransportOptions = {}): Promise<TcpTransport> {
    const server = net.createServer({ noDelay: true });
    const family = await StreamTransport.bind(server, spec);
    return new TcpTransport(host, server, spec, family, opts);
  }

  protected dial(address: string, port: number): net.Socket {
    return net.connect({ host: address, port, localAddress: this.bindAddress, family: this.family });
  }
}
