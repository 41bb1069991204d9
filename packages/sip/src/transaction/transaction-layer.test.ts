import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createResponse } from '../message/index.js';
import type { SipRequest, SipResponse } from '../message/index.js';
import { fixture, flush, parseRequest, requestText, responseText } from './test-fakes.js';
import type { TuEvent } from './test-fakes.js';
import type { ClientTransaction, ServerTransaction } from './types.js';
import { SipTransactionError } from './errors.js';

const UA = '192.0.2.1';

function requestEvents(ev: TuEvent[]): Array<{ tx: ServerTransaction; cancelled: ServerTransaction | null }> {
  return ev.filter((e): e is Extract<TuEvent, { ev: 'request' }> => e.ev === 'request');
}

describe('TransactionLayer matching', () => {
  describe('server side (RFC 3261 §17.2.3)', () => {
    it('same branch, different method: separate transactions', () => {
      const f = fixture({ sendTrying: false });
      f.udp.inject(requestText({ method: 'INFO', branch: 'z9hG4bKsame' }), UA);
      f.udp.inject(requestText({ method: 'OPTIONS', branch: 'z9hG4bKsame' }), UA);
      const ev = requestEvents(f.tu.take());
      assert.equal(ev.length, 2);
      assert.notEqual(ev[0]!.tx, ev[1]!.tx);
      assert.equal(f.layer.table.serverCount, 2);
    });

    it('same branch and method, different sent-by: separate transactions', () => {
      const f = fixture({ sendTrying: false });
      f.udp.inject(requestText({ method: 'OPTIONS', sentBy: '192.0.2.1:5060' }), UA);
      f.udp.inject(requestText({ method: 'OPTIONS', sentBy: '192.0.2.2:5060' }), '192.0.2.2');
      f.udp.inject(requestText({ method: 'OPTIONS', sentBy: '192.0.2.1:5070' }), UA, 5070);
      assert.equal(requestEvents(f.tu.take()).length, 3);
    });

    it('sent-by host compares case-insensitively; a retransmission is absorbed', () => {
      const f = fixture({ sendTrying: false });
      f.udp.inject(requestText({ method: 'OPTIONS', sentBy: 'UA.example.com:5060' }), UA);
      f.udp.inject(requestText({ method: 'OPTIONS', sentBy: 'ua.example.com:5060' }), UA);
      assert.deepEqual(f.tu.names(), ['request']);
      assert.equal(f.layer.stats.retransmissionsAbsorbed, 1);
    });

    it('CANCEL matching an INVITE server transaction gets its own transaction, with the INVITE as `cancelled`', () => {
      const f = fixture();
      f.udp.inject(requestText({ method: 'INVITE', branch: 'z9hG4bKinv' }), UA);
      const invite = requestEvents(f.tu.take())[0]!.tx;
      f.udp.inject(requestText({ method: 'CANCEL', branch: 'z9hG4bKinv' }), UA);
      const ev = requestEvents(f.tu.take());
      assert.equal(ev.length, 1);
      assert.equal(ev[0]!.cancelled, invite);
      assert.equal(ev[0]!.tx.request.method, 'CANCEL');
      assert.notEqual(ev[0]!.tx, invite);
      // The CANCEL's transaction answers its retransmissions on its own.
      ev[0]!.tx.respond(createResponse(ev[0]!.tx.request, 200, undefined, { toTag: 't' }));
      f.udp.take();
      f.udp.inject(requestText({ method: 'CANCEL', branch: 'z9hG4bKinv' }), UA);
      assert.deepEqual(f.udp.take().map((m) => (m.message as SipResponse).cseq.method), ['CANCEL']);
      assert.equal(invite.state, 'Proceeding');
    });

    it('an unmatched CANCEL goes to onStatelessRequest without a transaction (§16.10)', () => {
      const f = fixture();
      f.udp.inject(requestText({ method: 'CANCEL', branch: 'z9hG4bKnone' }), UA);
      const ev = f.tu.take();
      assert.deepEqual(ev.map((e) => e.ev), ['stateless']);
      assert.equal(f.layer.table.serverCount, 0);
    });

    it('a CANCEL with another sent-by does not match the INVITE', () => {
      const f = fixture();
      f.udp.inject(requestText({ method: 'INVITE', branch: 'z9hG4bKinv' }), UA);
      f.tu.take();
      f.udp.inject(requestText({ method: 'CANCEL', branch: 'z9hG4bKinv', sentBy: '192.0.2.99:5060' }), '192.0.2.99');
      assert.deepEqual(f.tu.names(), ['stateless']);
    });

    it('ACK for a 2xx (new branch) goes to onStatelessRequest; ACK for a non-2xx stays in the transaction', () => {
      const f = fixture();
      f.udp.inject(requestText({ method: 'INVITE', branch: 'z9hG4bKinv' }), UA);
      const tx = requestEvents(f.tu.take())[0]!.tx;
      tx.respond(createResponse(tx.request, 486, undefined, { toTag: 'srv' }));
      f.udp.inject(requestText({ method: 'ACK', branch: 'z9hG4bKother', toTag: 'srv' }), UA);
      assert.deepEqual(f.tu.names(), ['stateless']);
      assert.equal(tx.state, 'Completed');
      f.udp.inject(requestText({ method: 'ACK', branch: 'z9hG4bKinv', toTag: 'srv' }), UA);
      assert.deepEqual(f.tu.names(), []);
      assert.equal(tx.state, 'Confirmed');
    });
  });

  describe('RFC 2543 fallback (no magic cookie)', () => {
    const base = { branch: null, callId: 'old@192.0.2.1' } as const;

    it('matches retransmissions by R-URI, From tag, Call-ID, CSeq, top Via; To tag checked', () => {
      const f = fixture({ sendTrying: false });
      f.udp.inject(requestText({ ...base, method: 'OPTIONS' }), UA);
      f.udp.inject(requestText({ ...base, method: 'OPTIONS' }), UA); // retransmission
      assert.deepEqual(f.tu.names(), ['request']);
      for (const change of [
        { fromTag: 'other' },
        { cseq: 2 },
        { callId: 'new@192.0.2.1' },
        { uri: 'sip:carol@example.com' },
        { sentBy: '192.0.2.1:5070' },
        { toTag: 'x' },
      ]) {
        f.udp.inject(requestText({ ...base, method: 'OPTIONS', ...change }), UA);
        assert.deepEqual(f.tu.names(), ['request'], JSON.stringify(change));
      }
    });

    it('an old-style branch without the cookie is part of the Via compared', () => {
      const f = fixture({ sendTrying: false });
      f.udp.inject(requestText({ ...base, branch: 'oldbranch1', method: 'OPTIONS' }), UA);
      f.udp.inject(requestText({ ...base, branch: 'oldbranch2', method: 'OPTIONS' }), UA);
      f.udp.inject(requestText({ ...base, branch: 'oldbranch1', method: 'OPTIONS' }), UA);
      assert.deepEqual(f.tu.names(), ['request', 'request']);
    });

    it('ACK matches when its To tag is the one of our response; otherwise it is end to end', () => {
      const f = fixture();
      f.udp.inject(requestText({ ...base, method: 'INVITE' }), UA);
      const tx = requestEvents(f.tu.take())[0]!.tx;
      tx.respond(createResponse(tx.request, 404, undefined, { toTag: 'ours' }));
      f.udp.inject(requestText({ ...base, method: 'ACK', toTag: 'wrong' }), UA);
      assert.deepEqual(f.tu.names(), ['stateless']);
      assert.equal(tx.state, 'Completed');
      f.udp.inject(requestText({ ...base, method: 'ACK', toTag: 'ours' }), UA);
      assert.deepEqual(f.tu.names(), []);
      assert.equal(tx.state, 'Confirmed');
    });

    it('CANCEL matches the INVITE by the same rules', () => {
      const f = fixture();
      f.udp.inject(requestText({ ...base, method: 'INVITE' }), UA);
      const invite = requestEvents(f.tu.take())[0]!.tx;
      f.udp.inject(requestText({ ...base, method: 'CANCEL' }), UA);
      assert.equal(requestEvents(f.tu.take())[0]!.cancelled, invite);
      f.udp.inject(requestText({ ...base, method: 'CANCEL', fromTag: 'zz' }), UA);
      assert.deepEqual(f.tu.names(), ['stateless']);
    });
  });

  describe('client side (RFC 3261 §17.1.3)', () => {
    const DEST = { protocol: 'UDP', address: '192.0.2.20', port: 5060 } as const;

    function send(f: ReturnType<typeof fixture>, method: string, branch = 'z9hG4bKcl'): SipRequest {
      const req = parseRequest(requestText({ method, branch, sentBy: '192.0.2.10:5060' }));
      f.layer.createClientTransaction(req, DEST);
      f.udp.take();
      return req;
    }

    it('a response matches by branch and CSeq method: the CANCEL answer does not reach the INVITE', () => {
      const f = fixture();
      const invite = send(f, 'INVITE');
      const cancel = send(f, 'CANCEL');
      f.udp.inject(responseText(cancel, 200), DEST.address);
      f.udp.inject(responseText(invite, 487), DEST.address);
      const ev = f.tu.take().filter((e): e is Extract<TuEvent, { ev: 'response' }> => e.ev === 'response');
      assert.deepEqual(
        ev.map((e) => [e.tx.request.method, e.status]),
        [
          ['CANCEL', 200],
          ['INVITE', 487],
        ],
      );
    });

    it('an unknown branch, or a known branch with another method, is a stray response', () => {
      const f = fixture();
      send(f, 'OPTIONS');
      const other = parseRequest(requestText({ method: 'OPTIONS', branch: 'z9hG4bKunknown', sentBy: '192.0.2.10:5060' }));
      f.udp.inject(responseText(other, 200), DEST.address);
      const wrongMethod = parseRequest(requestText({ method: 'INFO', branch: 'z9hG4bKcl', sentBy: '192.0.2.10:5060' }));
      f.udp.inject(responseText(wrongMethod, 200), DEST.address);
      assert.deepEqual(f.tu.names(), ['stray', 'stray']);
      assert.equal(f.layer.stats.strayResponses, 2);
    });

    it('refuses ACK, branches without the magic cookie, and duplicate branch+method', () => {
      const f = fixture();
      const code = (fn: () => void): string | undefined => {
        try {
          fn();
        } catch (e) {
          return e instanceof SipTransactionError ? e.code : 'other';
        }
        return undefined;
      };
      assert.equal(code(() => f.layer.createClientTransaction(parseRequest(requestText({ method: 'ACK' })), DEST)), 'SIP_ERR_TX_ACK');
      assert.equal(code(() => f.layer.createClientTransaction(parseRequest(requestText({ branch: 'abc' })), DEST)), 'SIP_ERR_TX_BRANCH');
      send(f, 'OPTIONS');
      assert.equal(code(() => send(f, 'OPTIONS')), 'SIP_ERR_TX_DUPLICATE');
      assert.equal(code(() => send(f, 'INFO')), undefined);
    });
  });
});

describe('TransactionLayer', () => {
  it('answers an unparsable request statelessly with the parser status and reason, honouring rport', () => {
    const f = fixture();
    const bad = requestText({ method: 'OPTIONS', sentBy: '10.0.0.5:5060;rport' }).replace('Call-ID: call-1@192.0.2.1\r\n', '');
    f.udp.inject(bad, '198.51.100.7', 40000);
    const sent = f.udp.take();
    assert.equal(sent.length, 1);
    const res = sent[0]!.message as SipResponse;
    assert.equal(res.status, 400);
    assert.match(res.reason, /Call-ID/);
    // RFC 3581 §4: to the source address and port.
    assert.equal(sent[0]!.address, '198.51.100.7');
    assert.equal(sent[0]!.port, 40000);
    assert.equal(res.topVia.received, '198.51.100.7');
    assert.deepEqual(f.tu.names(), []);
    assert.equal(f.layer.stats.statelessReplies, 1);
    assert.equal(f.layer.table.serverCount, 0);
  });

  it('answers an oversized request 513 (RFC 3261 §18.1.1 / §21.5.14)', () => {
    const f = fixture();
    const text = requestText({ method: 'MESSAGE' }).replace('Content-Length: 0\r\n\r\n', `Content-Length: 70000\r\n\r\n${'x'.repeat(70000)}`);
    f.udp.inject(text, UA);
    assert.deepEqual(
      f.udp.take().map((m) => (m.message as SipResponse).status),
      [513],
    );
    assert.deepEqual(f.tu.names(), []);
  });

  it('a transport failure fails only the client transactions sending to that destination', async () => {
    const f = fixture();
    const mk = (branch: string, address: string): ClientTransaction =>
      f.layer.createClientTransaction(parseRequest(requestText({ method: 'OPTIONS', branch, sentBy: '192.0.2.10:5060' })), {
        protocol: 'UDP',
        address,
        port: 5060,
      });
    const a1 = mk('z9hG4bKa1', '192.0.2.20');
    const a2 = mk('z9hG4bKa2', '192.0.2.20');
    const b = mk('z9hG4bKb', '192.0.2.30');
    f.layer.onTransportError({ protocol: 'UDP', address: '192.0.2.20', port: 5060 }, new Error('ICMP unreachable'));
    await flush();
    assert.deepEqual(f.tu.names(), ['transportError', 'transportError']);
    assert.equal(a1.state, 'Terminated');
    assert.equal(a2.state, 'Terminated');
    assert.equal(b.state, 'Trying');
    assert.equal(f.layer.stats.transportErrors, 1);
  });

  it('never answers an unparsable ACK or response', () => {
    const f = fixture();
    f.udp.inject(requestText({ method: 'ACK' }).replace('Call-ID: call-1@192.0.2.1\r\n', ''), UA);
    const req = parseRequest(requestText({ method: 'OPTIONS' }));
    f.udp.inject(responseText(req, 200).replace(/Call-ID: [^\r]*\r\n/, ''), UA);
    f.udp.inject('garbage\r\n\r\n', UA);
    assert.deepEqual(f.udp.take(), []);
    assert.deepEqual(f.tu.names(), []);
    assert.equal(f.layer.stats.parseErrors, 3);
  });

  it('stateless mode: every request, even INVITE, goes to onStatelessRequest', () => {
    const f = fixture({ stateless: true });
    f.udp.inject(requestText({ method: 'INVITE' }), UA);
    f.udp.inject(requestText({ method: 'INVITE' }), UA);
    f.udp.inject(requestText({ method: 'ACK' }), UA);
    assert.deepEqual(f.tu.names(), ['stateless', 'stateless', 'stateless']);
    assert.deepEqual(f.udp.take(), []);
    assert.equal(f.layer.table.serverCount, 0);
  });

  it('a TU that throws in onRequest: the request is answered 500 so the transaction ends', () => {
    const f = fixture({ sendTrying: false });
    f.tu.onRequestHook = () => {
      throw new Error('bug');
    };
    f.udp.inject(requestText({ method: 'OPTIONS' }), UA);
    assert.deepEqual(
      f.udp.take().map((m) => (m.message as SipResponse).status),
      [500],
    );
    assert.equal(f.layer.stats.tuErrors, 1);
  });

  it('close() disposes every transaction and disarms their timers', () => {
    const f = fixture();
    f.udp.inject(requestText({ method: 'INVITE' }), UA);
    f.layer.createClientTransaction(parseRequest(requestText({ method: 'OPTIONS', branch: 'z9hG4bKx', sentBy: '192.0.2.10:5060' })), {
      protocol: 'UDP',
      address: '192.0.2.20',
      port: 5060,
    });
    assert.ok(f.wheel.size > 0);
    f.tu.take();
    f.layer.close();
    assert.equal(f.layer.table.serverCount, 0);
    assert.equal(f.layer.table.clientCount, 0);
    assert.equal(f.wheel.size, 0);
    assert.equal(f.layer.stats.activeClientTransactions, 0);
    assert.equal(f.layer.stats.activeServerTransactions, 0);
  });
});
