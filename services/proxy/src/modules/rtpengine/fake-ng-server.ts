/**
 * A fake ng relay for tests: answers ping/offer/answer/delete/list/query over real UDP on
 * loopback, rewrites c=/m= to its own media address and port, remembers the calls and every
 * command it got. `silent` makes it ignore everything (a dead relay, for failover tests).
 */
import { createSocket, type Socket } from 'node:dgram';
import { bdecode, bencode, isDict, type BencodeDict } from '@voip/ng';

export class FakeNgServer {
  readonly commands: BencodeDict[] = [];
  readonly calls = new Map<string, Set<string>>();
  silent = false;
  private nextPort = 30_000;

  private constructor(
    private readonly socket: Socket,
    readonly mediaIp: string,
  ) {
    socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo.address, rinfo.port));
  }

  static async start(mediaIp = '192.0.2.10'): Promise<FakeNgServer> {
    const s = createSocket('udp4');
    await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
    return new FakeNgServer(s, mediaIp);
  }

  get url(): string {
    return `udp:127.0.0.1:${this.socket.address().port}`;
  }

  count(command: string): number {
    return this.commands.filter((c) => c['command'] === command).length;
  }

  private rewrite(sdp: string): string {
    const port = this.nextPort;
    this.nextPort += 2;
    return sdp
      .split('\r\n')
      .map((l) => (l.startsWith('c=IN IP4 ') ? `c=IN IP4 ${this.mediaIp}` : l.startsWith('m=audio ') ? `m=audio ${port} ${l.split(' ').slice(2).join(' ')}` : l))
      .join('\r\n');
  }

  private onMessage(msg: Buffer, address: string, port: number): void {
    if (this.silent) return;
    const sp = msg.indexOf(0x20);
    const cookie = msg.toString('latin1', 0, sp);
    const r = bdecode(msg, sp + 1);
    if (!r.ok || !isDict(r.value)) return;
    const d = r.value;
    this.commands.push(d);
    const callId = String(d['call-id'] ?? '');
    let reply: BencodeDict;
    switch (d['command']) {
      case 'ping':
        reply = { result: 'pong' };
        break;
      case 'offer':
      case 'answer': {
        const tags = this.calls.get(callId) ?? new Set<string>();
        if (d['command'] === 'answer' && !this.calls.has(callId)) {
          reply = { result: 'error', 'error-reason': 'Unknown call-id' };
          break;
        }
        tags.add(String(d['from-tag']));
        this.calls.set(callId, tags);
        reply = { result: 'ok', sdp: this.rewrite(String(d['sdp'])) };
        break;
      }
      case 'delete':
        reply = this.calls.delete(callId) ? { result: 'ok' } : { result: 'error', 'error-reason': 'Unknown call-id' };
        break;
      case 'list':
        reply = { result: 'ok', calls: [...this.calls.keys()] };
        break;
      default:
        reply = { result: 'error', 'error-reason': 'Unrecognized command' };
    }
    this.socket.send(Buffer.concat([Buffer.from(`${cookie} `, 'latin1'), bencode(reply)]), port, address);
  }

  close(): void {
    this.socket.close();
  }
}
