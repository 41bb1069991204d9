import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createResponse } from '../message/index.js';
import type { SipResponse } from '../message/index.js';
import { fixture, requestText } from './test-fakes.js';
import type { Fixture, FakeTransport } from './test-fakes.js';
import type { ServerTransaction } from './types.js';

const UA = '192.0.2.1';

interface Started {
  f: Fixture;
  tx: ServerTransaction;
  t: FakeTransport;
  text: string;
}

function start(opts: { transport?: 'UDP' | 'TCP'; sendTrying?: boolean } = {}): Started {
  const f = fixture({ sendTrying: opts.sendTrying });
  const t = opts.transport === 'TCP' ? f.tcp : f.udp;
  const text = requestText({ transport: opts.transport ?? 'UDP' });
  t.inject(text, UA, 5060, opts.transport === 'TCP' ? 7 : null);
  const ev = f.tu.take();
  assert.equal(ev.length, 1);
  assert.equal(ev[0]!.ev, 'request');
  const tx = (ev[0] as { tx: ServerTransaction }).tx;
  return { f, tx, t, text };
}

function statusesSent(t: FakeTransport): number[] {
  return t.take().map((m) => (m.message as SipResponse).status);
}

function answer(s: Started, status: number): SipResponse {
  const res = createResponse(s.tx.request, status, undefined, { toTag: 'srv1' });
  s.tx.respond(res);
  return res;
}

/** Times at which responses were (re)sent while advancing `total` ms in 10 ms steps. */
function sendTimes(s: Started, total: number): number[] {
  const out: number[] = [];
  for (let t = 0; t < total; t += 10) {
    s.f.advance(10);
    for (const _ of s.t.take()) out.push(s.f.clock.now());
  }
  return out;
}

function ackText(branch = 'z9hG4bKup1', toTag = 'srv1'): string {
  return requestText({ method: 'ACK', branch, toTag });
}

describe('InviteServerTransaction', () => {
  describe('Proceeding', () => {
    it('a new INVITE creates it, goes to the TU, and is answered 100 Trying at once', () => {
      const s = start();
      assert.equal(s.tx.state, 'Proceeding');
      assert.equal(s.tx.isInvite, true);
      const sent = s.t.take();
      assert.equal(sent.length, 1);
      const trying = sent[0]!.message as SipResponse;
      assert.equal(trying.status, 100);
      assert.equal(trying.to.tag, null);
      assert.equal(sent[0]!.address, UA);
      assert.equal(sent[0]!.port, 5060);
      assert.equal(s.f.layer.stats.serverTransactions, 1);
    });

    it('no 100 Trying when sendTrying is off', () => {
      const s = start({ sendTrying: false });
      assert.deepEqual(s.t.take(), []);
    });

    it('INVITE retransmissions are absorbed and re-send the latest provisional', () => {
      const s = start({ sendTrying: false });
      s.t.inject(s.text, UA, 5060);
      assert.deepEqual(statusesSent(s.t), []); // nothing to re-send yet
      answer(s, 180);
      answer(s, 183);
      assert.deepEqual(statusesSent(s.t), [180, 183]);
      s.t.inject(s.text, UA, 5060);
      s.t.inject(s.text, UA, 5060);
      assert.deepEqual(statusesSent(s.t), [183, 183]);
      assert.deepEqual(s.f.tu.names(), []);
      assert.equal(s.f.layer.stats.retransmissionsAbsorbed, 3);
    });

    it('a 2xx from the TU is sent and moves to Accepted (RFC 6026)', () => {
      const s = start();
      s.t.take();
      answer(s, 200);
      assert.deepEqual(statusesSent(s.t), [200]);
      assert.equal(s.tx.state, 'Accepted');
      assert.equal(s.tx.finalSent, true);
    });

    for (const status of [300, 404, 486, 487, 500, 603]) {
      it(`a ${status} from the TU is sent and moves to Completed`, () => {
        const s = start();
        s.t.take();
        answer(s, status);
        assert.deepEqual(statusesSent(s.t), [status]);
        assert.equal(s.tx.state, 'Completed');
        assert.equal(s.tx.lastResponse?.status, status);
      });
    }
  });

  describe('Completed', () => {
    function completed(transport: 'UDP' | 'TCP' = 'UDP'): Started {
      const s = start({ transport });
      answer(s, 486);
      s.t.take();
      return s;
    }

    it('Timer G re-sends the final at T1, doubling up to T2 (UDP)', () => {
      const s = completed();
      assert.deepEqual(sendTimes(s, 31_990), [500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
    });

    it('Timer H (64*T1) without ACK: Terminated, TU told', () => {
      const s = completed();
      s.f.advance(31_990, 10);
      assert.deepEqual(s.f.tu.names(), []);
      s.f.advance(10);
      assert.equal(s.tx.state, 'Terminated');
      assert.deepEqual(s.f.tu.names(), ['serverTimeout', 'terminated']);
      assert.equal(s.f.layer.stats.serverTimeouts, 1);
      assert.equal(s.f.wheel.size, 0);
    });

    it('no Timer G on a reliable transport; Timer H still applies', () => {
      const s = completed('TCP');
      s.f.advance(31_990, 10);
      assert.deepEqual(s.t.take(), []);
      s.f.advance(10);
      assert.deepEqual(s.f.tu.names(), ['serverTimeout', 'terminated']);
    });

    it('an INVITE retransmission re-sends the final response', () => {
      const s = completed();
      s.t.inject(s.text, UA, 5060);
      assert.deepEqual(statusesSent(s.t), [486]);
      assert.deepEqual(s.f.tu.names(), []);
    });

    it('re-sends the exact bytes first sent; request and final stay readable from their parked bytes', () => {
      const s = start();
      const res = createResponse(s.tx.request, 486, undefined, { toTag: 'srv1' });
      s.tx.respond(res);
      const first = s.t.take().map((m) => m.buf.toString('latin1'));
      s.t.inject(s.text, UA, 5060);
      assert.deepEqual(s.t.take().map((m) => m.buf.toString('latin1')), first.slice(-1));
      assert.equal(s.tx.request.method, 'INVITE');
      assert.equal(s.tx.request.callId, res.callId);
      assert.equal(s.tx.lastResponse?.status, 486);
      assert.equal(s.tx.lastResponse?.to.tag, 'srv1');
    });

    it('the ACK moves to Confirmed and stops Timer G', () => {
      const s = completed();
      s.t.inject(ackText(), UA, 5060);
      assert.equal(s.tx.state, 'Confirmed');
      assert.deepEqual(s.f.tu.names(), []); // the ACK for a non-2xx stays in the transaction
      s.f.advance(4_000, 10);
      assert.deepEqual(s.t.take(), []);
    });

    it('on a reliable transport the ACK ends it at once (Timer I = 0)', () => {
      const s = completed('TCP');
      s.t.inject(ackText(), UA, 5060, 7);
      assert.equal(s.tx.state, 'Terminated');
      assert.deepEqual(s.f.tu.names(), ['terminated']);
    });

    it('a late 2xx (another fork) is still sent (RFC 3261 §16.7 step 5); other finals are discarded', () => {
      const s = completed();
      answer(s, 603);
      answer(s, 200);
      assert.deepEqual(statusesSent(s.t), [200]);
      assert.equal(s.tx.state, 'Completed');
    });
  });

  describe('Confirmed', () => {
    it('absorbs further ACKs and INVITEs; Timer I (T4) ends it', () => {
      const s = start();
      answer(s, 486);
      s.t.inject(ackText(), UA, 5060);
      s.t.take();
      s.t.inject(ackText(), UA, 5060);
      s.t.inject(s.text, UA, 5060);
      assert.deepEqual(s.t.take(), []);
      assert.deepEqual(s.f.tu.names(), []);
      s.f.advance(4_990, 10);
      assert.equal(s.tx.state, 'Confirmed');
      s.f.advance(10);
      assert.equal(s.tx.state, 'Terminated');
      assert.deepEqual(s.f.tu.names(), ['terminated']);
      // After it is gone the same INVITE is a new request again.
      s.t.inject(s.text, UA, 5060);
      assert.deepEqual(s.f.tu.names(), ['request']);
    });
  });

  describe('Accepted (RFC 6026)', () => {
    function accepted(): Started {
      const s = start();
      answer(s, 200);
      s.t.take();
      return s;
    }

    it('absorbs INVITE retransmissions without re-sending or telling the TU', () => {
      const s = accepted();
      s.t.inject(s.text, UA, 5060);
      assert.deepEqual(s.t.take(), []);
      assert.deepEqual(s.f.tu.names(), []);
    });

    it('sends 2xx retransmissions and other 2xx passed by the TU; discards non-2xx', () => {
      const s = accepted();
      answer(s, 200);
      answer(s, 486);
      answer(s, 180);
      assert.deepEqual(statusesSent(s.t), [200]);
      assert.equal(s.tx.state, 'Accepted');
    });

    it('keeps the request and the 2xx as bytes: both read back (RFC 6026 §8.7 needs neither parsed)', () => {
      const s = accepted();
      assert.equal(s.tx.request.method, 'INVITE');
      assert.equal(s.tx.request.topVia.branch, 'z9hG4bKup1');
      assert.equal(s.tx.lastResponse?.status, 200);
      answer(s, 200);
      assert.equal(s.tx.lastResponse?.status, 200);
      assert.equal(s.tx.request.method, 'INVITE', 'a 2xx retransmission re-parks the request with it');
    });

    it('an ACK matching it goes to the TU', () => {
      const s = accepted();
      s.t.inject(ackText(), UA, 5060);
      const ev = s.f.tu.take();
      assert.deepEqual(ev.map((e) => e.ev), ['stateless']);
      assert.equal((ev[0] as { req: { method: string } }).req.method, 'ACK');
    });

    it('Timer L (64*T1) ends it', () => {
      const s = accepted();
      s.f.advance(31_990, 10);
      assert.equal(s.tx.state, 'Accepted');
      s.f.advance(10);
      assert.equal(s.tx.state, 'Terminated');
      assert.deepEqual(s.f.tu.names(), ['terminated']);
    });
  });

  describe('terminate()', () => {
    it('ends it without a response: later retransmissions reach the TU as new requests', () => {
      const s = start({ sendTrying: false });
      s.tx.terminate();
      assert.equal(s.tx.state, 'Terminated');
      assert.deepEqual(s.f.tu.names(), ['terminated']);
      s.t.inject(s.text, UA, 5060);
      assert.deepEqual(s.f.tu.names(), ['request']);
      assert.equal(s.f.wheel.size, 0);
    });
  });
});
