/**
 * sip-proxy with two worker threads: registrations handled by one worker must route calls
 * handled by the other (replicated location), and every transaction of a call must stay in one
 * worker (steering by Call-ID for requests, by the branch's worker tag for responses), which
 * CANCEL, hop-by-hop ACK for 486 and 2xx retransmissions exercise. Every way of feeding workers
 * runs the same calls: `udpIo native` (the default: the addon's receiver thread steers UDP to
 * the workers, which send on the shared socket themselves; TCP dispatched by the main thread),
 * and with Node's dgram sockets `dispatch` (the main thread reads the sockets) and `reuseport`
 * (every worker has its own SO_REUSEPORT UDP socket and passes other workers' messages on;
 * UDP-only listen list).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { allocatePort, assertSippOk, createBackend, type Backend, type RunningProxy } from '../harness/index.js';
import { failureTracker, phoneContact, register } from './support.js';

const PHONES = 6;

const MODELS = [
  { model: 'native', udpIo: 'native', workerModel: undefined, transports: undefined },
  { model: 'dispatch', udpIo: 'dgram', workerModel: 'dispatch', transports: undefined },
  { model: 'reuseport', udpIo: 'dgram', workerModel: 'reuseport', transports: ['udp'] },
] as const;

for (const { model, udpIo, workerModel, transports } of MODELS) describe(`proxy: two worker threads (${model})`, () => {
  let lab: Backend;
  let proxy: RunningProxy;
  const ports = new Map<string, number>();
  const t = failureTracker();

  before(async () => {
    lab = await createBackend(`proxy-workers-${model}`);
    proxy = await lab.startProxy({
      workers: 2,
      udpIo,
      ...(workerModel !== undefined ? { workerModel } : {}),
      ...(transports !== undefined ? { transports } : {}),
    });
  });

  after(async () => {
    await lab?.close({ failed: t.failed() });
  });

  it('registrations made on either worker are visible to all (admin API of worker 0 lists every one)', t.track(async () => {
    for (let i = 0; i < PHONES; i++) {
      const user = `w${i}`;
      const port = await allocatePort(lab.host);
      ports.set(user, port);
      await register(lab, proxy, { user, contact: phoneContact(user, lab.host, port), expires: 600, name: `register-${user}` });
    }
    // Six REGISTERs with six Call-IDs: with two workers both handled some (hash of the Call-ID).
    assert.ok(proxy.adminUrl, 'admin API');
    const res = await fetch(`${proxy.adminUrl}/location`);
    const body = (await res.json()) as { bindings: { aor: string }[] };
    const aors = new Set(body.bindings.map((b) => b.aor.split('@')[0]));
    for (let i = 0; i < PHONES; i++) assert.ok(aors.has(`w${i}`), `w${i} missing from ${[...aors].join(',')}`);
  }));

  it('calls between phones registered on different workers complete (ACK and BYE via the route set)', t.track(async () => {
    for (let i = 0; i < PHONES; i += 2) {
      const [caller, callee] = [`w${i}`, `w${i + 1}`];
      const uas = await lab.startSipp({ name: `uas-${callee}`, scenario: 'uas-answer', localPort: ports.get(callee)!, timeoutMs: 20_000 });
      const uac = await lab.runSipp({
        name: `uac-${caller}`, scenario: 'uac-call', remote: proxy.sipAddress, localPort: ports.get(caller)!,
        keys: { caller, callee }, timeoutMs: 20_000,
      });
      assertSippOk([uac, await uas.result(25_000)], proxy);
    }
  }));

  it('486 and CANCEL keep their transactions in one worker', t.track(async () => {
    const busy = await lab.startSipp({ name: 'uas-busy', scenario: 'uas-busy', localPort: ports.get('w1')!, timeoutMs: 20_000 });
    const busyCall = await lab.runSipp({
      name: 'uac-busy', scenario: 'uac-expect-486', remote: proxy.sipAddress, localPort: ports.get('w0')!,
      keys: { caller: 'w0', callee: 'w1' }, timeoutMs: 20_000,
    });
    assertSippOk([busyCall, await busy.result(25_000)], proxy);
    const ringing = await lab.startSipp({ name: 'uas-cancelled', scenario: 'uas-cancelled', localPort: ports.get('w3')!, timeoutMs: 20_000 });
    const cancel = await lab.runSipp({
      name: 'uac-cancel', scenario: 'uac-cancel', remote: proxy.sipAddress, localPort: ports.get('w2')!,
      keys: { caller: 'w2', callee: 'w3' }, timeoutMs: 20_000,
    });
    assertSippOk([cancel, await ringing.result(25_000)], proxy);
  }));
});
