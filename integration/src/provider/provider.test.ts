/**
 * The provider route (book ch. 7–8) over real SIP with SIPp: PSTN calls through two gateways
 * with LCR failover, ACL groups per number class, trusted gateways without digest auth, no open
 * relay, call forwarding and voicemail. Every scenario runs on the provisioning-file storage and
 * on MariaDB (a database per run, filled with the real sipctl); on MariaDB sipctl changes reach
 * the running proxy through its admin API, and the proxy is restarted in between.
 */
import assert from 'node:assert/strict';
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
      const gw = await lab.runSipp({
        name: 'gw-a-inbound', scenario: scenario('uac-trusted-gateway'), remote: proxy.sipAddress,
        keys: { caller: '+12125550100', callee: 'bob', domain: DOMAIN }, timeoutMs: 20_000, extraArgs: ['-i', GW_A_HOST],
      });
      const uas = await bob.result(20_000);
      assertSippOk([gw, uas]);
      assert.equal(receivedBy(gw, { status: 407 }).length, 0, explain([gw, uas]));
      assert.equal(finalOf(gw), '200 OK');
    });

    it('the same INVITE from an untrusted address is challenged 407', async () => {
      const r = await lab.runSipp({
        name: 'untrusted-inbound', scenario: scenario('uac-trusted-gateway'), remote: proxy.sipAddress,
        keys: { caller: '+12125550100', callee: 'bob', domain: DOMAIN }, timeoutMs: 20_000, extraArgs: ['-i', UNTRUSTED_HOST],
      });
      assertSippOk([r]);
      assert.match(finalOf(r), /^407 /, explain([r]));
    });

    it('route[13]: a foreign caller to a foreign domain is 403 (no open relay)', async () => {
      const r = await lab.runSipp({
        name: 'foreign-foreign', scenario: scenario('uac-trusted-gateway'), remote: proxy.sipAddress,
        keys: { caller: 'mallory', callee: 'someone', domain: 'elsewhere.example.org' }, timeoutMs: 20_000, extraArgs: ['-i', UNTRUSTED_HOST],
      });
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

    if (storage.persistent) {
      it('sipctl with --proxy-admin: a new gateway and rule apply to the running proxy at once', async () => {
        await sipctlOk(['--db', dbUrl, '--proxy-admin', proxy.adminUrl, 'lcr', 'gw', 'add', 'gw-c', `${GW_B_HOST}:${ports.gwB}`, '--strip', '1', '--prefix', '9']);
        await sipctlOk(['--db', dbUrl, '--proxy-admin', proxy.adminUrl, 'lcr', 'rule', 'add', '+1415', '--gw', 'gw-c:1', '--stopper']);
        const c = await gateway('gw-c', GW_B_HOST, ports.gwB, 'uas-answer');
        const { uac, uas } = await call('14155550123', [c]);
        assertSippOk([uac, ...uas]);
        assert.equal(invitedUser(uas[0]!), '914155550123');
      });

      it('sipctl avp add with --proxy-admin: a new forward applies to the next call', async () => {
        await sipctlOk(['--db', dbUrl, '--proxy-admin', proxy.adminUrl, 'avp', 'add', `erin@${DOMAIN}`, 'callfwd', `sip:bob@${DOMAIN}`]);
        const bob = await lab.startSipp({ name: 'bob-erin-fwd', scenario: 'uas-answer', localPort: bobPort, timeoutMs: 20_000 });
        const { uac, uas } = await call('erin', [bob]);
        assertSippOk([uac, ...uas]);
        assert.equal(invitedUser(uas[0]!), 'bob');
      });

      it('after a restart the tables and bindings come from MariaDB: failover and forwarding still work', async () => {
        await proxy.handle.stop();
        proxy = await startProviderProxy(lab, { dbUrl, ports, name: 'provider-proxy-restarted' });
        const a = await rejecting('gw-a-503-restart', GW_A_HOST, ports.gwA, 503);
        const b = await gateway('gw-b-restart', GW_B_HOST, ports.gwB, 'uas-answer');
        const pstn = await call('12125551234', [a, b]);
        assertSippOk([pstn.uac, ...pstn.uas]);
        assert.equal(invitedUser(pstn.uas[1]!), '0012125551234');
        const bob = await lab.startSipp({ name: 'bob-after-restart', scenario: 'uas-answer', localPort: bobPort, timeoutMs: 20_000 });
        const fwd = await call('carol', [bob]);
        assertSippOk([fwd.uac, ...fwd.uas]);
      });
    }
  });
}
