/**
 * The provider route (book ch. 7–8) over real SIP with SIPp: PSTN calls through two gateways
 * with LCR failover, ACL groups per number class, trusted gateways without digest auth, no open
 * relay, call forwarding and voicemail. Every call flow runs on the provisioning-file storage and
 * on MariaDB (a database per run, filled with the real sipctl). On MariaDB sipctl changes reach
 * the running proxy through its admin API (given with --proxy-admin, or found in the proxy's
 * state directory), then the proxy is restarted and every call flow runs again with the tables
 * and bindings read back from MariaDB. sipctl edits MySQL only, so the provisioning file has no
 * sipctl steps. Last, SIPp registers and calls through a proxy started with no settings at all.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { allocatePorts, assertSippOk, createBackend, explain, receivedBy, type Backend, type SippHandle, type SippResult } from '../harness/index.js';
import { registerPhone, sipctlOk } from '../mysql/ch5-lab.js';
import { createTestDatabase, type TestDatabase } from '../mysql/mysql-database.js';
import {
  DOMAIN,
  GW_A_HOST,
  GW_B_HOST,
  password,
  provisionWithSipctl,
  scenario,
  sipctlBesideProxy,
  startDefaultProxy,
  startProviderProxy,
  UNTRUSTED_HOST,
  writeProvisioningFile,
  type ProviderPorts,
  type ProviderProxy,
} from './provider-lab.js';

/** The final response to the (authenticated) INVITE, as "status reason". */
function finalOf(r: SippResult): string {
  const finals = receivedBy(r, { cseqMethod: 'INVITE' }).filter((m) => m.status! >= 200);
  const last = finals[finals.length - 1];
  return last === undefined ? '(none)' : `${last.status} ${last.reason}`;
}

/** The user part of the R-URI of the INVITE a UAS received. */
function invitedUser(r: SippResult): string | undefined {
  const inv = receivedBy(r, { method: 'INVITE' })[0];
  const ruri = inv?.requestUri;
  return ruri === undefined || ruri === null ? undefined : /^sips?:([^@]+)@/.exec(ruri)?.[1];
}

interface Storage {
  name: string;
  /** Prepares the data; returns the --db URL. */
  provision(lab: Backend, ports: ProviderPorts): Promise<string>;
  cleanup(): Promise<void>;
  /** MariaDB only: state survives a restart, and sipctl edits the live database. */
  persistent: boolean;
}

function fileStorage(): Storage {
  return {
    name: 'provisioning file',
    provision: async (lab, ports) => writeProvisioningFile(lab, ports),
    cleanup: async () => {},
    persistent: false,
  };
}

function mariadbStorage(): Storage {
  let db: TestDatabase | null = null;
  return {
    name: 'MariaDB',
    provision: async (_lab, ports) => {
      db = await createTestDatabase('voip_it_provider');
      await provisionWithSipctl(db.url, ports);
      return db.url;
    },
    cleanup: async () => {
      await db?.drop();
    },
    persistent: true,
  };
}

for (const storage of [fileStorage(), mariadbStorage()]) {
  describe(`provider route on the ${storage.name}`, () => {
    let lab: Backend;
    let ports: ProviderPorts;
    let dbUrl: string;
    let proxy: ProviderProxy;
    let bobPort: number;
    let davePort: number;

    before(async () => {
      lab = await createBackend(`provider-${storage.persistent ? 'mariadb' : 'file'}`);
      const [sip, admin, gwA, gwB, voicemail, b, d] = await allocatePorts(7);
      ports = { sip: sip!, admin: admin!, gwA: gwA!, gwB: gwB!, voicemail: voicemail! };
      bobPort = b!;
      davePort = d!;
      dbUrl = await storage.provision(lab, ports);
      proxy = await startProviderProxy(lab, { dbUrl, ports });
      for (const [user, contactPort] of [['bob', bobPort], ['dave', davePort]] as const) {
        assertSippOk([await registerPhone(lab, proxy, { user, password: password(user), contactPort })]);
      }
    });

    after(async () => {
      await lab?.close();
      await storage.cleanup();
    });

    /** alice (or `caller`) dials `callee`@domain with digest; the UASes given answer meanwhile. */
    async function call(callee: string, uases: SippHandle[], caller = 'alice'): Promise<{ uac: SippResult; uas: SippResult[] }> {
      const uac = await lab.runSipp({
        name: `uac-${caller}-${callee}`, scenario: scenario('uac-call-digest'), remote: proxy.sipAddress,
        keys: { caller, callee, domain: DOMAIN }, timeoutMs: 20_000, extraArgs: ['-au', caller, '-ap', password(caller)],
      });
      const uas: SippResult[] = [];
      for (const h of uases) uas.push(await h.result(20_000));
      return { uac, uas };
    }

    function gateway(name: string, host: string, port: number, scen: string, keys: Record<string, string | number> = {}): Promise<SippHandle> {
      return lab.startSipp({ name, scenario: scen, localPort: port, keys, timeoutMs: 20_000, extraArgs: ['-i', host] });
    }
    /** A gateway answering 503 (next gateway, please) or 603 (the hunt ends). */
    const rejecting = (name: string, host: string, port: number, status: 503 | 603): Promise<SippHandle> =>
      gateway(name, host, port, scenario(`uas-gateway-${status}`));
    /** A peer at `host` (a gateway, or not) sends an INVITE without credentials, as a PSTN gateway does. */
    function inbound(name: string, host: string, keys: { caller: string; callee: string; domain: string }): Promise<SippResult> {
      return lab.runSipp({ name, scenario: scenario('uac-trusted-gateway'), remote: proxy.sipAddress, keys, timeoutMs: 20_000, extraArgs: ['-i', host] });
    }
    const fromPstnToBob = { caller: '+12125550100', callee: 'bob', domain: DOMAIN };


    /**
     * The book's call flows, one test each: the PSTN through LCR (route[4], failure_route[2]),
     * the ACL groups and the dial plan, trusted gateways (route[3]), no open relay (route[13]),
     * forwarding and voicemail (route[10], failure_route[1]). On MariaDB they run twice: now and
     * after a restart.
     */
    function callFlows(): void {
      it('route[4]/failure_route[2]: gw-a 503, gw-b 200 — the INVITE at gw-b has the E.164 number with its strip/prefix', async () => {
        const a = await rejecting('gw-a-503', GW_A_HOST, ports.gwA, 503);
        const b = await gateway('gw-b-200', GW_B_HOST, ports.gwB, 'uas-answer');
        const { uac, uas } = await call('12125551234', [a, b]);
        assertSippOk([uac, ...uas]);
        assert.equal(finalOf(uac), '200 OK', explain([uac, ...uas]));
        assert.equal(invitedUser(uas[0]!), '+12125551234');
        assert.equal(invitedUser(uas[1]!), '0012125551234');
      });

      it('both gateways 503: the caller gets 503 "Service not available, no more gateways"', async () => {
        const a = await rejecting('gw-a-503b', GW_A_HOST, ports.gwA, 503);
        const b = await rejecting('gw-b-503b', GW_B_HOST, ports.gwB, 503);
        const { uac, uas } = await call('13125550000', [a, b]);
        assertSippOk([uac, ...uas]);
        assert.equal(finalOf(uac), '503 Service not available, no more gateways', explain([uac, ...uas]));
      });

      it('a gateway that rings and never answers is CANCELled after fr_inv_timer; the next one answers', async () => {
        const a = await gateway('gw-a-silent', GW_A_HOST, ports.gwA, 'uas-cancelled');
        const b = await gateway('gw-b-late', GW_B_HOST, ports.gwB, 'uas-answer');
        const { uac, uas } = await call('14155550000', [a, b]);
        assertSippOk([uac, ...uas]);
        assert.equal(finalOf(uac), '200 OK', explain([uac, ...uas]));
      });

      it('a 6xx ends the hunt: the caller gets 603, gw-b is not tried', async () => {
        const a = await rejecting('gw-a-603', GW_A_HOST, ports.gwA, 603);
        const { uac, uas } = await call('16175550000', [a]);
        assertSippOk([uac, ...uas]);
        assert.equal(finalOf(uac), '603 Decline', explain([uac, ...uas]));
      });

      it('ACL: local and international calls of a member reach the gateways normalised', async () => {
        const local = await gateway('gw-a-local', GW_A_HOST, ports.gwA, 'uas-answer');
        const r1 = await call('5551234', [local]);
        assertSippOk([r1.uac, ...r1.uas]);
        assert.equal(invitedUser(r1.uas[0]!), '+15551234');
        const int = await gateway('gw-b-int', GW_B_HOST, ports.gwB, 'uas-answer');
        const r2 = await call('011442071234567', [int]);
        assertSippOk([r2.uac, ...r2.uas]);
        assert.equal(invitedUser(r2.uas[0]!), '00442071234567');
      });

      for (const [number, reason] of [
        ['5551234', 'No permissions for local calls'],
        ['12125551234', 'No permissions for long distance'],
        ['011442071234567', 'No perm. for internat.calls'],
      ] as const) {
        it(`ACL: bob without the group dialling ${number} gets 403 "${reason}"`, async () => {
          const { uac } = await call(number, [], 'bob');
          assertSippOk([uac]);
          assert.equal(finalOf(uac), `403 ${reason}`, explain([uac]));
        });
      }

      it('route[3]: a trusted gateway\'s INVITE to a registered user is relayed without a 407', async () => {
        const bob = await lab.startSipp({ name: 'bob-from-pstn', scenario: 'uas-answer', localPort: bobPort, timeoutMs: 20_000 });
        const gw = await inbound('gw-a-inbound', GW_A_HOST, fromPstnToBob);
        const uas = await bob.result(20_000);
        assertSippOk([gw, uas]);
        assert.equal(receivedBy(gw, { status: 407 }).length, 0, explain([gw, uas]));
        assert.equal(finalOf(gw), '200 OK');
      });

      it('the same INVITE from an untrusted address is challenged 407', async () => {
        const r = await inbound('untrusted-inbound', UNTRUSTED_HOST, fromPstnToBob);
        assertSippOk([r]);
        assert.match(finalOf(r), /^407 /, explain([r]));
      });

      it('route[13]: a foreign caller to a foreign domain is 403 (no open relay)', async () => {
        const r = await inbound('foreign-foreign', UNTRUSTED_HOST, { caller: 'mallory', callee: 'someone', domain: 'elsewhere.example.org' });
        assertSippOk([r]);
        assert.equal(finalOf(r), '403 Forbidden', explain([r]));
      });

      it('callfwd: a call to carol rings bob', async () => {
        const bob = await lab.startSipp({ name: 'bob-fwd', scenario: 'uas-answer', localPort: bobPort, timeoutMs: 20_000 });
        const { uac, uas } = await call('carol', [bob]);
        assertSippOk([uac, ...uas]);
        assert.equal(invitedUser(uas[0]!), 'bob');
      });

      it('failure_route[1]: dave busy → voicemail as bdave', async () => {
        const dave = await lab.startSipp({ name: 'dave-busy', scenario: 'uas-busy', localPort: davePort, timeoutMs: 20_000, extraArgs: ['-d', '100'] });
        const vm = await lab.startSipp({ name: 'vm-busy', scenario: 'uas-answer', localPort: ports.voicemail, timeoutMs: 20_000 });
        const { uac, uas } = await call('dave', [dave, vm]);
        assertSippOk([uac, ...uas]);
        assert.equal(invitedUser(uas[1]!), 'bdave', explain([uac, ...uas]));
      });

      it('failure_route[1]: dave does not answer within the timeout → CANCEL, voicemail as udave', async () => {
        const dave = await lab.startSipp({ name: 'dave-noanswer', scenario: 'uas-cancelled', localPort: davePort, timeoutMs: 20_000 });
        const vm = await lab.startSipp({ name: 'vm-noanswer', scenario: 'uas-answer', localPort: ports.voicemail, timeoutMs: 20_000 });
        const { uac, uas } = await call('dave', [dave, vm]);
        assertSippOk([uac, ...uas]);
        assert.equal(invitedUser(uas[1]!), 'udave', explain([uac, ...uas]));
      });

      it('route[10]: erin exists but is offline → voicemail as uerin; nobody → 404', async () => {
        const vm = await lab.startSipp({ name: 'vm-offline', scenario: 'uas-answer', localPort: ports.voicemail, timeoutMs: 20_000 });
        const { uac, uas } = await call('erin', [vm]);
        assertSippOk([uac, ...uas]);
        assert.equal(invitedUser(uas[0]!), 'uerin');
        const unknown = await call('nobody', []);
        assertSippOk([unknown.uac]);
        assert.equal(finalOf(unknown.uac), '404 Not Found');
      });

      it('failure_route[1]: the caller CANCELs while dave rings → 487, no voicemail leg', async () => {
        // The voicemail server takes one call: if the cancelled call had reached it, the next
        // call's INVITE would not be the first it sees.
        const vm = await lab.startSipp({ name: 'vm-after-cancel', scenario: 'uas-answer', localPort: ports.voicemail, timeoutMs: 20_000 });
        const dave = await lab.startSipp({ name: 'dave-cancelled', scenario: 'uas-cancelled', localPort: davePort, timeoutMs: 20_000 });
        const uac = await lab.runSipp({
          name: 'uac-alice-cancel', scenario: scenario('uac-call-digest-cancel'), remote: proxy.sipAddress,
          keys: { caller: 'alice', callee: 'dave', domain: DOMAIN }, timeoutMs: 20_000, extraArgs: ['-au', 'alice', '-ap', password('alice')],
        });
        const callee = await dave.result(20_000);
        assertSippOk([uac, callee]);
        const offline = await call('erin', [vm]);
        assertSippOk([offline.uac, ...offline.uas]);
        assert.equal(invitedUser(offline.uas[0]!), 'uerin', explain([uac, callee, ...offline.uas]));
      });

      it('an A→B→A forward loop ends with 482', async () => {
        const { uac } = await call('frank', []);
        assertSippOk([uac]);
        assert.equal(finalOf(uac), '482 Loop Detected', explain([uac]));
      });
    }

    callFlows();

    if (storage.persistent) {
      describe('sipctl changes apply to the running proxy at once (no restart, no periodic reload)', () => {
        it('lcr gw/rule add with --proxy-admin: a new gateway and rule carry the next call; rm takes them back', async () => {
          const admin = ['--db', dbUrl, '--proxy-admin', proxy.adminUrl];
          await sipctlOk([...admin, 'lcr', 'gw', 'add', 'gw-c', `${GW_B_HOST}:${ports.gwB}`, '--strip', '1', '--prefix', '9']);
          const rule = JSON.parse(await sipctlOk([...admin, '--json', 'lcr', 'rule', 'add', '+1415', '--gw', 'gw-c:1', '--stopper'])) as { added: { id: number } };
          const c = await gateway('gw-c', GW_B_HOST, ports.gwB, 'uas-answer');
          const { uac, uas } = await call('14155550123', [c]);
          assertSippOk([uac, ...uas]);
          assert.equal(invitedUser(uas[0]!), '914155550123');
          await sipctlOk([...admin, 'lcr', 'rule', 'rm', String(rule.added.id)]);
          await sipctlOk([...admin, 'lcr', 'gw', 'rm', 'gw-c']);
        });

        it('avp add with --proxy-admin: a new forward applies to the next call; avp rm takes it back', async () => {
          const admin = ['--db', dbUrl, '--proxy-admin', proxy.adminUrl];
          await sipctlOk([...admin, 'avp', 'add', `erin@${DOMAIN}`, 'callfwd', `sip:bob@${DOMAIN}`]);
          const bob = await lab.startSipp({ name: 'bob-erin-fwd', scenario: 'uas-answer', localPort: bobPort, timeoutMs: 20_000 });
          const { uac, uas } = await call('erin', [bob]);
          assertSippOk([uac, ...uas]);
          assert.equal(invitedUser(uas[0]!), 'bob');
          await sipctlOk([...admin, 'avp', 'rm', `erin@${DOMAIN}`, 'callfwd']);
        });

        it('sipctl without --proxy-admin finds the proxy in its state directory: trusted add relays a challenged peer, trusted rm challenges it again', async () => {
          // The proxy wrote the URL of its admin API to its state directory at start-up.
          const record = JSON.parse(readFileSync(join(proxy.stateDir, 'admin-url'), 'utf8')) as { url: string };
          assert.equal(record.url, proxy.adminUrl);
          const before = await inbound('peer-before-trust', UNTRUSTED_HOST, fromPstnToBob);
          assertSippOk([before]);
          assert.match(finalOf(before), /^407 /, explain([before]));

          const added = await sipctlBesideProxy(proxy.stateDir, ['--db', dbUrl, 'trusted', 'add', UNTRUSTED_HOST, '--proto', 'udp', '--tag', 'gw-c']);
          assert.match(added, /\(the proxy reloaded its trusted peers and address groups: \d+\)/);
          const bob = await lab.startSipp({ name: 'bob-from-new-peer', scenario: 'uas-answer', localPort: bobPort, timeoutMs: 20_000 });
          const trusted = await inbound('peer-trusted', UNTRUSTED_HOST, fromPstnToBob);
          const uas = await bob.result(20_000);
          assertSippOk([trusted, uas]);
          assert.equal(receivedBy(trusted, { status: 407 }).length, 0, explain([trusted, uas]));
          assert.equal(finalOf(trusted), '200 OK');

          const removed = await sipctlBesideProxy(proxy.stateDir, ['--db', dbUrl, 'trusted', 'rm', UNTRUSTED_HOST]);
          assert.match(removed, /\(the proxy reloaded its trusted peers and address groups: \d+\)/);
          const after = await inbound('peer-untrusted-again', UNTRUSTED_HOST, fromPstnToBob);
          assertSippOk([after]);
          assert.match(finalOf(after), /^407 /, explain([after]));
        });

        it('speeddial add USER@DOMAIN NN URI: dialling NN reaches the target; speeddial rm takes it back', async () => {
          const admin = ['--db', dbUrl, '--proxy-admin', proxy.adminUrl];
          const added = await sipctlOk([...admin, 'speeddial', 'add', `alice@${DOMAIN}`, '22', `sip:bob@${DOMAIN}`]);
          assert.match(added, /\(the proxy reloaded its preference caches: \d+\)/);
          const bob = await lab.startSipp({ name: 'bob-speed-dial', scenario: 'uas-answer', localPort: bobPort, timeoutMs: 20_000 });
          const { uac, uas } = await call('22', [bob]);
          assertSippOk([uac, ...uas]);
          assert.equal(finalOf(uac), '200 OK', explain([uac, ...uas]));
          assert.equal(invitedUser(uas[0]!), 'bob');
          await sipctlOk([...admin, 'speeddial', 'rm', `alice@${DOMAIN}`, '22']);
        });
      });

      describe('after a restart: every call flow again, the tables and bindings read from MariaDB', () => {
        it('the proxy stops (taking its admin-url with it) and starts again on the same database', async () => {
          await proxy.handle.stop();
          assert.equal(existsSync(join(proxy.stateDir, 'admin-url')), false, 'a clean shutdown removes admin-url');
          proxy = await startProviderProxy(lab, { dbUrl, ports, name: 'provider-proxy-restarted' });
        });

        callFlows();
      });
    }
  });
}

describe('provider route with default settings (no config file, no auth settings)', () => {
  let lab: Backend;
  let proxy: ProviderProxy;
  let alicePort: number;
  let bobPort: number;

  before(async () => {
    lab = await createBackend('provider-defaults');
    const [sip, admin, gwA, gwB, voicemail, a, b] = await allocatePorts(7);
    const ports: ProviderPorts = { sip: sip!, admin: admin!, gwA: gwA!, gwB: gwB!, voicemail: voicemail! };
    alicePort = a!;
    bobPort = b!;
    proxy = await startDefaultProxy(lab, { dbUrl: writeProvisioningFile(lab, ports), ports });
  });

  after(async () => {
    await lab?.close();
  });

  it('SIPp registers alice and bob with digest, then alice calls bob: one MD5 challenge, 200, bob sees no credentials', async () => {
    for (const [user, contactPort] of [['alice', alicePort], ['bob', bobPort]] as const) {
      assertSippOk([await registerPhone(lab, proxy, { user, password: password(user), contactPort })]);
    }
    const bob = await lab.startSipp({ name: 'bob-default', scenario: 'uas-answer', localPort: bobPort, timeoutMs: 20_000 });
    const uac = await lab.runSipp({
      name: 'uac-alice-default', scenario: scenario('uac-call-digest'), remote: proxy.sipAddress,
      keys: { caller: 'alice', callee: 'bob', domain: DOMAIN }, timeoutMs: 20_000, extraArgs: ['-au', 'alice', '-ap', password('alice')],
    });
    const uas = await bob.result(20_000);
    assertSippOk([uac, uas]);
    assert.equal(finalOf(uac), '200 OK', explain([uac, uas]));
    const challenge = receivedBy(uac, { status: 407 });
    assert.equal(challenge.length, 1, explain([uac]));
    const offered = challenge[0]!.headerLines('proxy-authenticate');
    assert.equal(offered.length, 1, offered.join(' | '));
    assert.match(offered[0]!, /algorithm=MD5/);
    const invite = receivedBy(uas, { method: 'INVITE' });
    assert.equal(invite.length, 1, explain([uas]));
    assert.equal(invite[0]!.header('proxy-authorization'), undefined);
    // The nonce secret was generated (no auth.nonceSecret) and kept in the state directory.
    assert.ok(existsSync(join(proxy.stateDir, 'nonce-secret')), 'nonce secret in .sip-proxy/');
  });
});
