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

function start(dest = UDP_DEST, method = 'OPTIONS', timers: { T1?: number; T2?: number; T4?: number } = {}): Started {
  const f = fixture({ timers });
  const req = parseRequest(requestText({ method, sentBy: '192.0.2.10:5060', branch: 'z9hG4bKnict1', transport: dest.protocol }));
  const tx = f.layer.createClientTransaction(req, dest);
  return { f, req, tx };
}

function respond({ f, req }: Started, status: number): void {
  const t = req.topVia.transport === 'TCP' ? f.tcp : f.udp;
  t.inject(responseText(req, status), PEER, 5060);
}

function sendTimes(s: Started, total: number): number[] {
  const times: number[] = [];
  for (let t = 0; t < total; t += 10) {
    s.f.advance(10);
    for (const _ of s.f.udp.take()) times.push(s.f.clock.now());
  }
  return times;
}

function statuses(f: Fixture): Array<number | string> {
  return f.tu.take().map((e) => (e.ev === 'response' ? e.status : e.ev));
}

describe('NonInviteClientTransaction', () => {
  describe('Trying', () => {
    it('sends the request on creation and is in Trying', () => {
      const s = start();
      assert.equal(s.f.udp.take().length, 1);
      assert.equal(s.tx.state, 'Trying');
      assert.equal(s.tx.isInvite, false);
    });

    it('Timer E retransmits at T1, doubling up to T2 (UDP)', () => {
      const s = start();
      s.f.udp.take();
      assert.deepEqual(sendTimes(s, 32_000), [500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
    });

    it('the schedule follows configured T1/T2', () => {
      const s = start(UDP_DEST, 'OPTIONS', { T1: 100, T2: 400 });
      s.f.udp.take();
      // 100, 300 (200), 700 (400), then every 400 until F = 6400.
      assert.deepEqual(sendTimes(s, 6_400), [100, 300, 700, 1100, 1500, 1900, 2300, 2700, 3100, 3500, 3900, 4300, 4700, 5100, 5500, 5900, 6300]);
      assert.deepEqual(statuses(s.f), ['timeout']);
    });

    it('Timer F at 64*T1 reports the timeout and terminates', () => {
      const s = start();
      s.f.advance(31_990, 10);
      assert.deepEqual(statuses(s.f), []);
      s.f.advance(10);
      assert.equal(s.tx.state, 'Terminated');
      assert.deepEqual(statuses(s.f), ['timeout']);
      assert.equal(s.f.layer.stats.timeouts, 1);
      assert.equal(s.f.wheel.size, 0);
    });

    it('no retransmissions on a reliable transport; Timer F still applies', () => {
      const s = start(TCP_DEST);
      assert.equal(s.f.tcp.take().length, 1);
      s.f.advance(31_990, 10);
      assert.deepEqual(s.f.tcp.take(), []);
      s.f.advance(10);
      assert.deepEqual(statuses(s.f), ['timeout']);
    });

    it('a 1xx moves to Proceeding and goes up', () => {
      const s = start();
      respond(s, 100);
      assert.equal(s.tx.state, 'Proceeding');
      assert.deepEqual(statuses(s.f), [100]);
    });

    for (const status of [200, 202, 302, 401, 404, 408, 500, 503, 603]) {
      it(`a ${status} moves to Completed and goes up`, () => {
        const s = start();
        respond(s, status);
        assert.equal(s.tx.state, 'Completed');
        assert.deepEqual(statuses(s.f), [status]);
        assert.equal(s.tx.lastResponse?.status, status);
      });
    }

    it('a transport error reports to the TU and terminates', async () => {
      const s = start();
      s.f.udp.failWith = new Error('EHOSTUNREACH');
      s.f.advance(500);
      await flush();
      assert.equal(s.tx.state, 'Terminated');
      assert.deepEqual(statuses(s.f), ['transportError']);
    });
  });

  describe('Proceeding', () => {
    function proceeding(): Started {
      const s = start();
      s.f.advance(600, 10); // first retransmission at 500; E next due at 1500
      respond(s, 100);
      s.f.udp.take();
      s.f.tu.take();
      return s;
    }

    it('Timer E keeps retransmitting, now every T2', () => {
      const s = proceeding();
      const times: number[] = [];
      for (let t = 600; t < 20_000; t += 10) {
        s.f.advance(10);
        for (const _ of s.f.udp.take()) times.push(s.f.clock.now());
      }
      assert.deepEqual(times, [1500, 5500, 9500, 13500, 17500]);
    });

    it('more provisionals go up; a final moves to Completed', () => {
      const s = proceeding();
      respond(s, 180);
      respond(s, 200);
      assert.deepEqual(statuses(s.f), [180, 200]);
      assert.equal(s.tx.state, 'Completed');
    });

    it('Timer F still fires in Proceeding', () => {
      const s = proceeding();
      s.f.advance(32_000 - 600, 100);
      assert.deepEqual(statuses(s.f), ['timeout']);
      assert.equal(s.tx.state, 'Terminated');
    });
  });

  describe('Completed', () => {
    it('absorbs response retransmissions; Timer K (T4) then terminates', () => {
      const s = start();
      respond(s, 200);
      s.f.tu.take();
      s.f.udp.take();
      respond(s, 200);
      respond(s, 200);
      assert.deepEqual(statuses(s.f), []);
      s.f.advance(4_990, 10);
      assert.equal(s.tx.state, 'Completed');
      assert.deepEqual(s.f.udp.take(), []); // no retransmissions in Completed
      s.f.advance(10);
      assert.equal(s.tx.state, 'Terminated');
      respond(s, 200);
      assert.deepEqual(statuses(s.f), ['stray']);
    });

    it('Timer K is zero on a reliable transport', () => {
      const s = start(TCP_DEST);
      respond(s, 200);
      assert.equal(s.tx.state, 'Terminated');
      assert.deepEqual(statuses(s.f), [200]);
      assert.equal(s.f.layer.table.clientCount, 0);
    });
  });
});
