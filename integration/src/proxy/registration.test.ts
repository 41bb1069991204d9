/**
 * RFC 3665 §2 registration flows against the proxy's registrar (chapter 4: save("location"),
 * no authentication yet), driven by SIPp over real UDP and TCP. Each flow uses its own AOR
 * so the flows are independent of their order.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  allocatePorts, assertSippOk, createBackend, explain,
  type Backend, type RunningProxy,
} from '../harness/index.js';
import { bindingsOf, failureTracker, findBinding, register, registerResponse } from './support.js';

const MIN_EXPIRES = 60;

describe('registrar: RFC 3665 registration flows', () => {
  let lab: Backend;
  let proxy: RunningProxy;
  let ports: number[];
  const t = failureTracker();

  before(async () => {
    lab = await createBackend('proxy-registration');
    proxy = await lab.startProxy({ registrar: { minExpires: MIN_EXPIRES, maxExpires: 3600 } });
    // Contacts only need to be syntactically ours; nothing is sent to them here.
    ports = await allocatePorts(6);
  });

  after(async () => {
    await lab?.close({ failed: t.failed() });
  });

  const contact = (user: string, i: number): string => `sip:${user}@${lab.host}:${ports[i]}`;

  it('§2.1 new registration: 200 lists the binding with its expiry', t.track(async () => {
    const r = await register(lab, proxy, { user: 'reg-new', contact: contact('reg-new', 0), expires: 300 });
    const ok = registerResponse(r, 200);
    const sent = r.messages.find((m) => m.direction === 'sent')!.message;
    // RFC 3261 §10.3 step 8 / §8.2.6.2: the response echoes Call-ID, CSeq, From and To.
    assert.equal(ok.callId, sent.callId);
    assert.equal(ok.header('cseq'), '1 REGISTER');
    assert.match(ok.header('to') ?? '', /sip:reg-new@/);
    const bindings = bindingsOf(ok);
    assert.equal(bindings.length, 1, `exactly the new binding expected\n${ok.raw}`);
    const b = findBinding(bindings, contact('reg-new', 0));
    assert.ok(b, `binding ${contact('reg-new', 0)} missing\n${ok.raw}`);
    assert.ok(b.expires !== null && b.expires <= 300 && b.expires >= 298, `expires=${b.expires}, want 300`);
  }));

  it('§2.2 update: a refresh on the same Call-ID adds a contact, 200 lists both', t.track(async () => {
    const r = await lab.runSipp({
      name: 'register-update',
      scenario: 'register-update',
      remote: proxy.sipAddress,
      keys: { user: 'reg-upd', contact: contact('reg-upd', 0), contact2: contact('reg-upd', 1), expires: 600 },
      timeoutMs: 10_000,
    });
    assertSippOk([r], proxy);
    const first = bindingsOf(registerResponse(r, 200, 1));
    assert.equal(first.length, 1, explain([r]));
    const second = bindingsOf(registerResponse(r, 200, 2));
    assert.equal(second.length, 2, `both bindings expected after the update\n${explain([r])}`);
    assert.ok(findBinding(second, contact('reg-upd', 0)));
    assert.ok(findBinding(second, contact('reg-upd', 1)));
  }));

  it('§2.3 query: REGISTER without Contact lists the bindings and changes nothing', t.track(async () => {
    await register(lab, proxy, { user: 'reg-query', contact: contact('reg-query', 0), expires: 900 });
    await register(lab, proxy, { user: 'reg-query', contact: contact('reg-query', 1), expires: 900 });
    for (let round = 0; round < 2; round++) {
      const q = await lab.runSipp({ name: `query-${round}`, scenario: 'register-query', remote: proxy.sipAddress, keys: { user: 'reg-query' }, timeoutMs: 10_000 });
      assertSippOk([q], proxy);
      const bindings = bindingsOf(registerResponse(q, 200));
      assert.equal(bindings.length, 2, `query round ${round}: both bindings expected\n${explain([q])}`);
      for (const i of [0, 1]) {
        const b = findBinding(bindings, contact('reg-query', i));
        assert.ok(b && b.expires !== null && b.expires > 0 && b.expires <= 900, `binding ${i} with a remaining expiry\n${explain([q])}`);
      }
    }
  }));

  it('§2.5 removal of one binding with Expires: 0 keeps the others', t.track(async () => {
    await register(lab, proxy, { user: 'reg-rm', contact: contact('reg-rm', 0), expires: 600 });
    await register(lab, proxy, { user: 'reg-rm', contact: contact('reg-rm', 1), expires: 600 });
    const r = await register(lab, proxy, { user: 'reg-rm', contact: contact('reg-rm', 0), expires: 0, name: 'remove-one' });
    const left = bindingsOf(registerResponse(r, 200));
    assert.equal(findBinding(left, contact('reg-rm', 0)), undefined, `removed binding still listed\n${explain([r])}`);
    assert.ok(findBinding(left, contact('reg-rm', 1)), `other binding lost\n${explain([r])}`);
    const q = await lab.runSipp({ name: 'query-after-remove', scenario: 'register-query', remote: proxy.sipAddress, keys: { user: 'reg-rm' }, timeoutMs: 10_000 });
    assertSippOk([q], proxy);
    assert.deepEqual(bindingsOf(registerResponse(q, 200)).map((b) => b.uri.toLowerCase()), [contact('reg-rm', 1).toLowerCase()]);
  }));

  it('§2.5 removal of all bindings with Contact: * and Expires: 0', t.track(async () => {
    await register(lab, proxy, { user: 'reg-star', contact: contact('reg-star', 0), expires: 600 });
    await register(lab, proxy, { user: 'reg-star', contact: contact('reg-star', 1), expires: 600 });
    const r = await lab.runSipp({ name: 'remove-all', scenario: 'register-remove-all', remote: proxy.sipAddress, keys: { user: 'reg-star' }, timeoutMs: 10_000 });
    assertSippOk([r], proxy);
    assert.equal(bindingsOf(registerResponse(r, 200)).length, 0);
    const q = await lab.runSipp({ name: 'query-after-star', scenario: 'register-query', remote: proxy.sipAddress, keys: { user: 'reg-star' }, timeoutMs: 10_000 });
    assertSippOk([q], proxy);
    assert.equal(bindingsOf(registerResponse(q, 200)).length, 0, `bindings survived Contact: *\n${explain([q])}`);
  }));

  it('several contacts with q-values; an expires parameter overrides the Expires header', t.track(async () => {
    const r = await lab.runSipp({
      name: 'register-multi',
      scenario: 'register-multi',
      remote: proxy.sipAddress,
      keys: {
        user: 'reg-multi', contact: contact('reg-multi', 0), contact2: contact('reg-multi', 1), contact3: contact('reg-multi', 2),
        expires: 1200, param_expires: 120,
      },
      timeoutMs: 10_000,
    });
    assertSippOk([r], proxy);
    const bindings = bindingsOf(registerResponse(r, 200));
    assert.equal(bindings.length, 3, explain([r]));
    const [a, b, c] = [0, 1, 2].map((i) => findBinding(bindings, contact('reg-multi', i)));
    assert.ok(a && b && c, explain([r]));
    // RFC 3261 §10.2.1.2: q is kept per binding.
    assert.equal(a.q, 0.9);
    assert.equal(b.q, 0.5);
    assert.equal(c.q, 0.1);
    // §10.2.1.1: the contact's expires parameter wins; the header is the default for the rest.
    assert.ok(b.expires !== null && b.expires <= 120 && b.expires >= 118, `param expiry: ${b.expires}`);
    for (const x of [a, c]) assert.ok(x.expires !== null && x.expires <= 1200 && x.expires >= 1198, `header expiry: ${x.expires}`);
  }));

  it('423 Interval Too Brief with Min-Expires, then success with that value', t.track(async () => {
    const r = await lab.runSipp({
      name: 'register-too-brief',
      scenario: 'register-too-brief',
      remote: proxy.sipAddress,
      keys: { user: 'reg-brief', contact: contact('reg-brief', 0), expires: 1 },
      timeoutMs: 10_000,
    });
    assertSippOk([r], proxy);
    const brief = registerResponse(r, 423, 1);
    // RFC 3261 §10.3 step 7: the 423 carries Min-Expires.
    assert.equal(Number(brief.header('min-expires')), MIN_EXPIRES, brief.raw);
    const ok = registerResponse(r, 200, 2);
    // Only the retried binding exists: the refused attempt created none.
    assert.equal(bindingsOf(ok).length, 1, explain([r]));
    const b = findBinding(bindingsOf(ok), contact('reg-brief', 0));
    assert.ok(b && b.expires !== null && b.expires <= MIN_EXPIRES && b.expires >= MIN_EXPIRES - 2, explain([r]));
  }));

  it('registration over TCP binds a transport=tcp contact', t.track(async () => {
    const uri = `${contact('reg-tcp', 3)};transport=tcp`;
    const r = await register(lab, proxy, { user: 'reg-tcp', contact: uri, expires: 300, transport: 'tcp' });
    const b = findBinding(bindingsOf(registerResponse(r, 200)), uri);
    assert.ok(b, explain([r]));
    assert.equal(r.messages[0]!.transport, 'TCP');
  }));
});
