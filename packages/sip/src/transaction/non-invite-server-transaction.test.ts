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

function start(transport: 'UDP' | 'TCP' = 'UDP', method = 'REGISTER'): Started {
  const f = fixture();
  const t = transport === 'TCP' ? f.tcp : f.udp;
  const text = requestText({ method, transport, uri: 'sip:example.com' });
  t.inject(text, UA, 5060, transport === 'TCP' ? 3 : null);
  const ev = f.tu.take();
  assert.deepEqual(ev.map((e) => e.ev), ['request']);
  return { f, tx: (ev[0] as { tx: ServerTransaction }).tx, t, text };
}

function answer(s: Started, status: number): void {
  s.tx.respond(createResponse(s.tx.request, status, undefined, { toTag: 'srv1' }));
}

function statusesSent(t: FakeTransport): number[] {
  return t.take().map((m) => (m.message as SipResponse).status);
}

describe('NonInviteServerTransaction', () => {
  describe('Trying', () => {
    it('a new request creates it in Trying and goes to the TU; no 100 is sent for non-INVITE', () => {
      const s = start();
      assert.equal(s.tx.state, 'Trying');
      assert.equal(s.tx.isInvite, false);
      assert.deepEqual(s.t.take(), []);
    });

    it('request retransmissions are discarded (nothing to re-send yet)', () => {
      const s = start();
      s.t.inject(s.text, UA, 5060);
      s.t.inject(s.text, UA, 5060);
      assert.deepEqual(s.t.take(), []);
      assert.deepEqual(s.f.tu.names(), []);
      assert.equal(s.f.layer.stats.retransmissionsAbsorbed, 2);
    });

    it('a provisional from the TU is sent and moves to Proceeding', () => {
      const s = start();
      answer(s, 100);
      assert.deepEqual(statusesSent(s.t), [100]);
      assert.equal(s.tx.state, 'Proceeding');
    });

    for (const status of [200, 202, 401, 403, 404, 423, 500, 503]) {
      it(`a ${status} from the TU is sent and moves to Completed`, () => {
        const s = start();
        answer(s, status);
        assert.deepEqual(statusesSent(s.t), [status]);
        assert.equal(s.tx.state, 'Completed');
        assert.equal(s.tx.finalSent, true);
      });
    }
  });

  describe('Proceeding', () => {
    it('a retransmission re-sends the latest provisional; a final moves to Completed', () => {
      const s = start();
      answer(s, 100);
      answer(s, 181);
      s.t.take();
      s.t.inject(s.text, UA, 5060);
      assert.deepEqual(statusesSent(s.t), [181]);
      answer(s, 200);
      assert.deepEqual(statusesSent(s.t), [200]);
      assert.equal(s.tx.state, 'Completed');
    });
  });

  describe('Completed', () => {
    it('a retransmission re-sends the final; further finals from the TU are discarded', () => {
      const s = start();
      answer(s, 401);
      s.t.take();
      s.t.inject(s.text, UA, 5060);
      s.t.inject(s.text, UA, 5060);
      assert.deepEqual(statusesSent(s.t), [401, 401]);
      answer(s, 200);
      assert.deepEqual(s.t.take(), []);
      assert.equal(s.tx.lastResponse?.status, 401);
      assert.equal(s.f.layer.stats.responseRetransmissions, 2);
    });

    it('re-sends the exact bytes of the final; request and final stay readable from their parked bytes', () => {
      const s = start();
      answer(s, 200);
      const first = s.t.take().map((m) => m.buf.toString('latin1'));
      s.t.inject(s.text, UA, 5060);
      assert.deepEqual(s.t.take().map((m) => m.buf.toString('latin1')), first);
      assert.equal(s.tx.request.method, 'REGISTER');
      assert.equal(s.tx.lastResponse?.status, 200);
      assert.equal(s.tx.lastResponse?.to.tag, 'srv1');
    });

    it('Timer J (64*T1 on UDP) ends it; then the request is new again', () => {
      const s = start();
      answer(s, 200);
      s.f.advance(31_990, 10);
      assert.equal(s.tx.state, 'Completed');
      s.f.advance(10);
      assert.equal(s.tx.state, 'Terminated');
      assert.deepEqual(s.f.tu.names(), ['terminated']);
      s.t.inject(s.text, UA, 5060);
      assert.deepEqual(s.f.tu.names(), ['request']);
    });

    it('Timer J is zero on a reliable transport; responses go over the request connection', () => {
      const s = start('TCP');
      answer(s, 200);
      const sent = s.t.take();
      assert.equal(sent[0]!.connectionId, 3);
      assert.equal(s.tx.state, 'Terminated');
      assert.deepEqual(s.f.tu.names(), ['terminated']);
      assert.equal(s.f.layer.table.serverCount, 0);
    });
  });
});
