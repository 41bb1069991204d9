import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { SipRequest } from '../message/index.js';
import type { TransportAddress } from '../transport/index.js';
import { fixture, flush, parseRequest, requestText, responseText } from './test-fakes.js';
import type { Fixture } from './test-fakes.js';
import type { ClientTransaction } from './types.js';

const PEER = '192.0.2.20';
const UDP_DEST: TransportAddress = { protocol: 'UDP', address: PEER, port: 5060 };
const TCP_DEST: TransportAddress = { protocol: 'TCP', address: PEER, port: 5060 };

interface Started {
  f: Fixture;
  req: SipRequest;
  tx: ClientTransaction;
}

function start(dest = UDP_DEST, timers: { timerC?: number } = {}): Started {
  const f = fixture({ timers });
  const req = parseRequest(requestText({ sentBy: '192.0.2.10:5060', branch: 'z9hG4bKict1', transport: dest.protocol }));
  const tx = f.layer.createClientTransaction(req, dest);
  return { f, req, tx };
}

function respond({ f, req }: Started, status: number, toTag: string | null = 'b1'): void {
  const t = req.topVia.transport === 'TCP' ? f.tcp : f.udp;
  t.inject(responseText(req, status, 'X', toTag), PEER, 5060);
}

/** Times (ms) at which the request was (re)sent while advancing `total` ms in 10 ms steps. */
function sendTimes(s: Started, total: number): number[] {
  const times: number[] = [];
  for (let t = 0; t < total; t += 10) {
    s.f.advance(10);
    for (const m of s.f.udp.take()) if (m.message.headers.get('cseq') === '1 INVITE') times.push(s.f.clock.now());
  }
  return times;
}

describe('InviteClientTransaction', () => {
  describe('Calling', () => {
    it('sends the request on creation, to the destination, and is in Calling', () => {
      const s = start();
      const sent = s.f.udp.take();
      assert.equal(sent.length, 1);
      assert.equal(sent[0]!.address, PEER);
      assert.equal(sent[0]!.port, 5060);
      assert.equal(sent[0]!.buf.toString('latin1'), s.req.toBuffer().toString('latin1'));
      assert.equal(s.tx.state, 'Calling');
      assert.equal(s.f.layer.stats.activeClientTransactions, 1);
    });

    it('Timer A retransmits at T1 and doubles without a T2 cap until Timer B (UDP)', () => {
      const s = start();
      s.f.udp.take();
      // 500, 1500, 3500, 7500, 15500, 31500: intervals 500, 1000, 2000, 4000, 8000, 16000.
      assert.deepEqual(sendTimes(s, 32_000), [500, 1500, 3500, 7500, 15500, 31500]);
      assert.equal(s.f.layer.stats.requestRetransmissions, 6);
    });

    it('Timer B fires at 64*T1: TU told of the timeout, transaction Terminated', () => {
      const s = start();
      s.f.advance(31_990, 10);
      assert.equal(s.tx.state, 'Calling');
      assert.deepEqual(s.f.tu.names(), []);
      s.f.advance(10);
      assert.equal(s.tx.state, 'Terminated');
      const ev = s.f.tu.take();
      assert.deepEqual(ev.map((e) => e.ev), ['timeout']);
      assert.equal((ev[0] as { tx: ClientTransaction }).tx, s.tx);
      assert.equal(s.f.layer.table.clientCount, 0);
      assert.equal(s.f.wheel.size, 0);
      // Nothing fires afterwards.
      s.f.udp.take();
      s.f.advance(100_000, 1000);
      assert.deepEqual(s.f.udp.take(), []);
    });

    it('does not retransmit on a reliable transport, but Timer B still applies', () => {
      const s = start(TCP_DEST);
      assert.equal(s.f.tcp.take().length, 1);
      s.f.advance(31_990, 10);
      assert.deepEqual(s.f.tcp.take(), []);
      s.f.advance(10);
      assert.deepEqual(s.f.tu.names(), ['timeout']);
    });

    it('a 1xx moves to Proceeding, goes to the TU, and stops retransmissions', () => {
      const s = start();
      s.f.advance(600, 10);
      s.f.udp.take();
      respond(s, 180);
      assert.equal(s.tx.state, 'Proceeding');
      const ev = s.f.tu.take();
      assert.deepEqual(ev.map((e) => (e.ev === 'response' ? e.status : e.ev)), [180]);
      s.f.advance(120_000, 100);
      assert.deepEqual(s.f.udp.take(), []);
      assert.deepEqual(s.f.tu.names(), []); // no Timer B in Proceeding
    });

    it('a 2xx moves to Accepted (RFC 6026) and goes to the TU; the transaction sends no ACK', () => {
      const s = start();
      s.f.udp.take();
      respond(s, 200);
      assert.equal(s.tx.state, 'Accepted');
      assert.deepEqual(s.f.tu.take().map((e) => (e.ev === 'response' ? e.status : e.ev)), [200]);
      assert.deepEqual(s.f.udp.take(), []);
    });

    for (const status of [300, 404, 486, 487, 500, 503, 603]) {
      it(`a ${status} moves to Completed, sends the ACK to the same destination and goes to the TU`, () => {
        const s = start();
        s.f.udp.take();
        respond(s, status);
        assert.equal(s.tx.state, 'Completed');
        assert.deepEqual(s.f.tu.take().map((e) => (e.ev === 'response' ? e.status : e.ev)), [status]);
        const sent = s.f.udp.take();
        assert.equal(sent.length, 1);
        const ack = sent[0]!.message as SipRequest;
        assert.equal(sent[0]!.address, PEER);
        assert.equal(ack.method, 'ACK');
        // RFC 3261 §17.1.1.3: same R-URI, Call-ID, From, CSeq number, top Via; To of the response.
        assert.equal(ack.uri.toString(), s.req.uri.toString());
        assert.equal(ack.callId, s.req.callId);
        assert.equal(ack.cseq.seq, 1);
        assert.equal(ack.cseq.method, 'ACK');
        assert.equal(ack.topVia.branch, 'z9hG4bKict1');
        assert.equal(ack.vias.length, 1);
        assert.equal(ack.to.tag, 'b1');
        assert.equal(ack.from.tag, 'a1');
      });
    }

    it('a transport error before any response: TU told, Terminated', async () => {
      const s = start();
      s.f.udp.failWith = new Error('EHOSTUNREACH');
      s.f.advance(500); // Timer A retransmission fails
      await flush();
      assert.equal(s.tx.state, 'Terminated');
      assert.deepEqual(s.f.tu.names(), ['transportError']);
      assert.equal(s.f.layer.table.clientCount, 0);
    });

    it('a transport error when no transport fits the destination: TU told, Terminated', async () => {
      const f = fixture();
      const req = parseRequest(requestText({ sentBy: '[2001:db8::10]:5060', branch: 'z9hG4bKv6' }));
      const tx = f.layer.createClientTransaction(req, { protocol: 'UDP', address: '2001:db8::20', port: 5060 });
      assert.equal(tx.transport, null);
      await flush();
      assert.equal(tx.state, 'Terminated');
      assert.deepEqual(f.tu.names(), ['transportError']);
    });
  });

  describe('Proceeding', () => {
    function proceeding(dest = UDP_DEST): Started {
      const s = start(dest);
      respond(s, 100, null);
      s.f.udp.take();
      s.f.tcp.take();
      s.f.tu.take();
      return s;
    }

    it('further provisionals go to the TU', () => {
      const s = proceeding();
      respond(s, 180);
      respond(s, 183);
      assert.equal(s.tx.state, 'Proceeding');
      assert.deepEqual(s.f.tu.take().map((e) => (e.ev === 'response' ? e.status : e.ev)), [180, 183]);
    });

    it('a 2xx moves to Accepted; a non-2xx to Completed with an ACK', () => {
      const a = proceeding();
      respond(a, 200);
      assert.equal(a.tx.state, 'Accepted');
      const c = proceeding();
      respond(c, 486);
      assert.equal(c.tx.state, 'Completed');
      assert.equal((c.f.udp.take()[0]!.message as SipRequest).method, 'ACK');
    });

    it('a transport error: TU told, Terminated', async () => {
      const s = proceeding();
      s.f.udp.failWith = new Error('ECONNREFUSED');
      s.f.transport.send(Buffer.from('x'), UDP_DEST); // any send to that destination fails
      await flush();
      assert.equal(s.tx.state, 'Terminated');
      assert.deepEqual(s.f.tu.names(), ['transportError']);
    });
  });

  describe('Completed', () => {
    function completed(dest = UDP_DEST): Started {
      const s = start(dest);
      respond(s, 486);
      s.f.udp.take();
      s.f.tcp.take();
      s.f.tu.take();
      return s;
    }

    it('a retransmitted final response re-sends the ACK and is not passed up', () => {
      const s = completed();
      respond(s, 486);
      respond(s, 486);
      const sent = s.f.udp.take();
      assert.deepEqual(sent.map((m) => (m.message as SipRequest).method), ['ACK', 'ACK']);
      assert.deepEqual(s.f.tu.names(), []);
      assert.equal(s.f.layer.stats.ackRetransmissions, 2);
    });

    it('Timer D ends it after 32 s on UDP; a later retransmission is a stray response', () => {
      const s = completed();
      s.f.advance(31_990, 10);
      assert.equal(s.tx.state, 'Completed');
      s.f.advance(10);
      assert.equal(s.tx.state, 'Terminated');
      respond(s, 486);
      assert.deepEqual(s.f.tu.names(), ['stray']);
      assert.deepEqual(s.f.udp.take(), []);
    });

    it('Timer D is zero on a reliable transport: Terminated at once (the ACK is still sent)', () => {
      const s = start(TCP_DEST);
      s.f.tcp.take();
      respond(s, 486);
      assert.equal(s.tx.state, 'Terminated');
      assert.deepEqual(s.f.tcp.take().map((m) => (m.message as SipRequest).method), ['ACK']);
      assert.deepEqual(s.f.tu.names(), ['response']);
    });

    it('a transport error ends it without telling the TU again', async () => {
      const s = completed();
      s.f.udp.failWith = new Error('EHOSTUNREACH');
      respond(s, 486);
      await flush();
      assert.equal(s.tx.state, 'Terminated');
      assert.deepEqual(s.f.tu.names(), []);
    });
  });

  describe('Accepted (RFC 6026)', () => {
    function accepted(): Started {
      const s = start();
      respond(s, 200);
      s.f.udp.take();
      s.f.tu.take();
      return s;
    }

    it('passes 2xx retransmissions and 2xx from other forks to the TU, sends nothing', () => {
      const s = accepted();
      respond(s, 200);
      respond(s, 200, 'fork2');
      const ev = s.f.tu.take();
      assert.deepEqual(ev.map((e) => (e.ev === 'response' ? `${e.status}/${e.res.to.tag}` : e.ev)), ['200/b1', '200/fork2']);
      assert.deepEqual(s.f.udp.take(), []);
    });

    it('keeps the request and the last 2xx as bytes once the TU had them: both read back', () => {
      const s = accepted();
      assert.equal(s.tx.request.method, 'INVITE');
      assert.equal(s.tx.lastResponse?.status, 200);
      respond(s, 200, 'fork2');
      assert.equal(s.tx.lastResponse?.to.tag, 'fork2');
      assert.equal(s.tx.request.method, 'INVITE');
    });

    it('drops provisionals and non-2xx finals', () => {
      const s = accepted();
      respond(s, 180);
      respond(s, 486);
      assert.deepEqual(s.f.tu.names(), []);
      assert.deepEqual(s.f.udp.take(), []);
      assert.equal(s.tx.state, 'Accepted');
    });

    it('Timer M ends it at 64*T1; later 2xx retransmissions are stray', () => {
      const s = accepted();
      s.f.advance(31_990, 10);
      assert.equal(s.tx.state, 'Accepted');
      s.f.advance(10);
      assert.equal(s.tx.state, 'Terminated');
      respond(s, 200);
      assert.deepEqual(s.f.tu.names(), ['stray']);
    });
  });

  describe('Timer C (proxy, RFC 3261 §16.6/§16.8)', () => {
    const C = 181_000;

    it('fires after timerC in Calling/Proceeding; 100 does not reset it, other 1xx do', () => {
      const s = start(UDP_DEST, { timerC: C });
      respond(s, 100, null);
      s.f.advance(100_000, 1000);
      respond(s, 100, null); // does not reset
      s.f.tu.take();
      s.f.advance(80_990, 10);
      assert.deepEqual(s.f.tu.names(), []);
      s.f.advance(10);
      assert.deepEqual(s.f.tu.names(), ['timerC']);
      assert.equal(s.f.layer.stats.timerC, 1);
      // A 180 re-arms it for another full period.
      respond(s, 180);
      s.f.tu.take();
      s.f.advance(C - 10, 1000);
      assert.deepEqual(s.f.tu.names(), []);
      s.f.advance(10);
      assert.deepEqual(s.f.tu.names(), ['timerC']);
    });

    it('is cleared by a final response', () => {
      const s = start(UDP_DEST, { timerC: C });
      respond(s, 180);
      respond(s, 200);
      s.f.tu.take();
      s.f.advance(C * 2, 1000);
      assert.deepEqual(s.f.tu.names(), []);
      assert.equal(s.f.wheel.size, 0);
    });

    it('without an onTimerC handler the transaction ends as a timeout', () => {
      const s = start(UDP_DEST, { timerC: C });
      (s.f.tu as { onTimerC?: unknown }).onTimerC = undefined;
      respond(s, 180);
      s.f.tu.take();
      s.f.advance(C, 1000);
      assert.deepEqual(s.f.tu.names(), ['timeout']);
      assert.equal(s.tx.state, 'Terminated');
    });

    it('is not armed when timerC is not configured', () => {
      const s = start();
      respond(s, 180);
      s.f.tu.take();
      s.f.advance(1_000_000, 10_000);
      assert.deepEqual(s.f.tu.names(), []);
      assert.equal(s.f.wheel.size, 0);
    });
  });
});
