/**
 * The bridge's SIP side end to end in-process: a raw UDP client against a running built-in
 * bridge (real transport, transactions, UA, engine). Covers what SIPp suites do not: 2xx
 * retransmission until ACK, re-INVITE (hold), INFO DTMF ending a recording, CANCEL before the
 * answer, a missing ACK ending the call with BYE, and the error answers; every dialog and
 * media port is released at the end.
 */
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '@voip/sip';
import { startBridge, type RunningBridge } from '../bridge.js';
import { loadConfig } from '../config.js';

const dir = mkdtempSync(join(tmpdir(), 'vm-ua-'));

interface Msg {
  text: string;
  startLine: string;
  header(name: string): string | undefined;
  body: string;
}

function parse(text: string): Msg {
  const [head, ...rest] = text.split('\r\n\r\n');
  const lines = head!.split('\r\n');
  return {
    text,
    startLine: lines[0]!,
    body: rest.join('\r\n\r\n'),
    header(name: string) {
      const l = lines.find((x) => x.toLowerCase().startsWith(`${name.toLowerCase()}:`));
      return l?.slice(l.indexOf(':') + 1).trim();
    },
  };
}

class Client {
  readonly inbox: Msg[] = [];
  private waiters: (() => void)[] = [];
  private constructor(
    readonly sock: Socket,
    readonly port: number,
    readonly target: number,
  ) {
    sock.on('message', (m) => {
      this.inbox.push(parse(m.toString('latin1')));
      for (const w of this.waiters.splice(0)) w();
    });
  }
  static async open(target: number): Promise<Client> {
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    return new Client(s, s.address().port, target);
  }
  send(text: string): void {
    this.sock.send(Buffer.from(text, 'latin1'), this.target, '127.0.0.1');
  }
  /** Waits for (and removes) the first message matching. */
  async next(pred: (m: Msg) => boolean, timeoutMs = 5000): Promise<Msg> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const i = this.inbox.findIndex(pred);
      if (i >= 0) return this.inbox.splice(i, 1)[0]!;
      if (Date.now() > end) throw new Error(`timeout; inbox: ${this.inbox.map((m) => m.startLine).join(' | ')}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }
  close(): void {
    this.sock.close();
  }
}

let seq = 0;
function sdp(port: number, direction = 'sendrecv', pts = '0 101'): string {
  return `v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio ${port} RTP/AVP ${pts}\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=${direction}\r\n`;
}

function request(c: Client, method: string, ruser: string, o: { callId: string; fromTag: string; toTag?: string; cseq: number; body?: string; ctype?: string; extra?: string[]; branch?: string }): string {
  const body = o.body ?? '';
  return [
    `${method} sip:${ruser}@127.0.0.1:${c.target} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${c.port};branch=${o.branch ?? `z9hG4bK-t${++seq}`};rport`,
    'Max-Forwards: 70',
    `From: <sip:alice@example.com>;tag=${o.fromTag}`,
    `To: <sip:${ruser}@example.com>${o.toTag ? `;tag=${o.toTag}` : ''}`,
    `Call-ID: ${o.callId}`,
    `CSeq: ${o.cseq} ${method === 'ACK' ? 'ACK' : method}`,
    `Contact: <sip:alice@127.0.0.1:${c.port}>`,
    ...(o.extra ?? []),
    ...(body ? [`Content-Type: ${o.ctype ?? 'application/sdp'}`] : []),
    `Content-Length: ${Buffer.byteLength(body, 'latin1')}`,
    '',
    body,
  ].join('\r\n');
}

describe('voicemail-bridge SIP user agent (in-process, raw UDP)', { timeout: 60_000 }, () => {
  let bridge: RunningBridge;
  let c: Client;
  const spool = join(dir, 'spool');

  before(async () => {
    writeFileSync(join(dir, 'subs.yaml'), 'subscribers:\n  - { username: bob, domain: example.com, password: x }\n');
    const cfg = loadConfig({
      db: `file:${join(dir, 'subs.yaml')}`,
      spool,
      listen: ['udp:127.0.0.1:0'],
      http: 'off',
      t1: 20,
      media: { ports: '46000-46099' },
      recording: { minSeconds: 0 },
      greetings: { speech: false },
    });
    bridge = await startBridge(cfg, silentLogger);
    c = await Client.open(bridge.sip[0]!.port);
  });

  after(async () => {
    c?.close();
    await bridge?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('retransmits 2xx until the ACK; re-INVITE to hold answers recvonly; INFO # ends the recording with our BYE', async () => {
    const callId = 'ua-call-1';
    c.send(request(c, 'INVITE', 'bbob', { callId, fromTag: 'f1', cseq: 1, body: sdp(47000) }));
    const ok1 = await c.next((m) => m.startLine.startsWith('SIP/2.0 200') && m.header('cseq') === '1 INVITE');
    const again = await c.next((m) => m.startLine.startsWith('SIP/2.0 200') && m.header('cseq') === '1 INVITE');
    assert.equal(again.header('to'), ok1.header('to'), '2xx retransmitted (RFC 3261 §13.3.1.4)');
    const toTag = /;tag=([^;]+)/.exec(ok1.header('to')!)![1]!;
    assert.match(ok1.body, /^m=audio \d+ RTP\/AVP 0 101/m);
    c.send(request(c, 'ACK', 'bbob', { callId, fromTag: 'f1', toTag, cseq: 1 }));

    c.send(request(c, 'INVITE', 'bbob', { callId, fromTag: 'f1', toTag, cseq: 2, body: sdp(47000, 'sendonly') }));
    const ok2 = await c.next((m) => m.startLine.startsWith('SIP/2.0 200') && m.header('cseq') === '2 INVITE');
    assert.match(ok2.body, /^a=recvonly/m);
    assert.match(ok2.body, /^o=voicemail \d+ 2 /m, 'o= version incremented (RFC 3264 §8)');
    c.send(request(c, 'ACK', 'bbob', { callId, fromTag: 'f1', toTag, cseq: 2 }));

    // Out-of-order CSeq inside the dialog: 500 (§12.2.2).
    c.send(request(c, 'INFO', 'bbob', { callId, fromTag: 'f1', toTag, cseq: 1, body: 'Signal=5\r\n', ctype: 'application/dtmf-relay' }));
    assert.match((await c.next((m) => m.header('cseq') === '1 INFO')).startLine, /^SIP\/2\.0 500/);

    // Wait for the beep (tone prompts: 1.25 s), send half a second of audio, press # by INFO.
    await new Promise((r) => setTimeout(r, 1600));
    const media = Number(/^m=audio (\d+)/m.exec(ok2.body)![1]);
    const rtp = createSocket('udp4');
    for (let i = 0; i < 25; i++) {
      const p = Buffer.alloc(172, 0x55);
      p[0] = 0x80;
      p[1] = 0;
      p.writeUInt16BE(i, 2);
      p.writeUInt32BE(i * 160, 4);
      p.writeUInt32BE(77, 8);
      rtp.send(p, media, '127.0.0.1');
    }
    await new Promise((r) => setTimeout(r, 200));
    rtp.close();
    c.send(request(c, 'INFO', 'bbob', { callId, fromTag: 'f1', toTag, cseq: 3, body: 'Signal=#\r\nDuration=160\r\n', ctype: 'application/dtmf-relay' }));
    assert.match((await c.next((m) => m.header('cseq') === '3 INFO')).startLine, /^SIP\/2\.0 200/);
    const bye = await c.next((m) => m.startLine.startsWith('BYE '));
    assert.equal(bye.header('call-id'), callId);
    c.send(`SIP/2.0 200 OK\r\nVia: ${bye.header('via')}\r\nFrom: ${bye.header('from')}\r\nTo: ${bye.header('to')}\r\nCall-ID: ${callId}\r\nCSeq: ${bye.header('cseq')}\r\nContent-Length: 0\r\n\r\n`);
    const box = join(spool, 'mailboxes', 'example.com', 'bob', 'new');
    const files = readdirSync(box);
    assert.equal(files.filter((f) => f.endsWith('.json')).length, 1, 'the message was stored before our BYE');
  });

  it('CANCEL before the answer: 200 to the CANCEL, 487 to the INVITE, nothing left behind', async () => {
    const branch = 'z9hG4bK-cancel-1';
    c.send(request(c, 'INVITE', 'ubob', { callId: 'ua-cancel', fromTag: 'f2', cseq: 1, body: sdp(47010), branch }));
    c.send(request(c, 'CANCEL', 'ubob', { callId: 'ua-cancel', fromTag: 'f2', cseq: 1, branch }));
    assert.match((await c.next((m) => m.header('cseq') === '1 CANCEL')).startLine, /^SIP\/2\.0 200/);
    const r487 = await c.next((m) => m.header('cseq') === '1 INVITE' && !m.startLine.startsWith('SIP/2.0 100'));
    assert.match(r487.startLine, /^SIP\/2\.0 487/);
    c.send(request(c, 'ACK', 'ubob', { callId: 'ua-cancel', fromTag: 'f2', toTag: /;tag=([^;]+)/.exec(r487.header('to')!)![1], cseq: 1, branch }));
  });

  it('no ACK for the 2xx: the call is ended with BYE after 64*T1 (RFC 3261 §13.3.1.4)', async () => {
    c.send(request(c, 'INVITE', 'bbob', { callId: 'ua-noack', fromTag: 'f3', cseq: 1, body: sdp(47020) }));
    await c.next((m) => m.startLine.startsWith('SIP/2.0 200') && m.header('call-id') === 'ua-noack');
    const bye = await c.next((m) => m.startLine.startsWith('BYE ') && m.header('call-id') === 'ua-noack', 10_000);
    c.send(`SIP/2.0 200 OK\r\nVia: ${bye.header('via')}\r\nFrom: ${bye.header('from')}\r\nTo: ${bye.header('to')}\r\nCall-ID: ua-noack\r\nCSeq: ${bye.header('cseq')}\r\nContent-Length: 0\r\n\r\n`);
  });

  it('answers what it does not serve with the right codes', async () => {
    const cases: [string, string, Parameters<typeof request>[3], RegExp][] = [
      ['BYE', 'bbob', { callId: 'x1', fromTag: 'a', toTag: 'nope', cseq: 5 }, /^SIP\/2\.0 481/],
      ['OPTIONS', 'bob', { callId: 'x2', fromTag: 'a', cseq: 1 }, /^SIP\/2\.0 200/],
      ['MESSAGE', 'bob', { callId: 'x3', fromTag: 'a', cseq: 1, body: 'hi', ctype: 'text/plain' }, /^SIP\/2\.0 405/],
      ['INVITE', 'bnobody', { callId: 'x4', fromTag: 'a', cseq: 1, body: sdp(47030) }, /^SIP\/2\.0 404/],
      ['INVITE', 'bob', { callId: 'x5', fromTag: 'a', cseq: 1, body: sdp(47040) }, /^SIP\/2\.0 403/],
      ['INVITE', 'bbob', { callId: 'x6', fromTag: 'a', cseq: 1, body: sdp(47050, 'sendrecv', '18') }, /^SIP\/2\.0 488/],
      ['INVITE', 'bbob', { callId: 'x7', fromTag: 'a', cseq: 1, body: 'v=0\r\ngarbage', }, /^SIP\/2\.0 400/],
      ['SUBSCRIBE', 'bob', { callId: 'x8', fromTag: 'a', cseq: 1, extra: ['Event: presence'] }, /^SIP\/2\.0 489/],
      ['SUBSCRIBE', 'bob', { callId: 'x9', fromTag: 'a', cseq: 1, extra: ['Event: message-summary', 'Expires: 5'] }, /^SIP\/2\.0 423/],
      ['INVITE', 'bbob', { callId: 'x10', fromTag: 'a', cseq: 1, body: sdp(47060), extra: ['Require: 100rel'] }, /^SIP\/2\.0 420/],
    ];
    for (const [method, user, o, re] of cases) {
      c.send(request(c, method, user, o));
      const r = await c.next((m) => m.header('call-id') === o.callId && !m.startLine.startsWith('SIP/2.0 100'));
      assert.match(r.startLine, re, `${method} ${user}: ${r.startLine}`);
      if (method === 'INVITE') c.send(request(c, 'ACK', user, { ...o, toTag: /;tag=([^;]+)/.exec(r.header('to')!)![1], body: '' }));
      if (o.callId === 'x9') assert.equal(r.header('min-expires'), '60');
      if (o.callId === 'x6') assert.match(r.header('warning') ?? '', /^305 /);
    }
  });

  it('every dialog and call is gone at the end', async () => {
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(bridge.ua.dialogCount, 0);
    assert.equal(bridge.engine!.activeCalls, 0);
    assert.equal(bridge.engine!.preparingCalls, 0);
    assert.equal(bridge.clock!.size, 0);
  });
});
