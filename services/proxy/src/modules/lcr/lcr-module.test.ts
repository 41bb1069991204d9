import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { silentLogger } from '@voip/sip';
import type { LcrGatewayRow, LcrRepository, LcrRuleRow, LcrRuleTargetRow } from '@voip/storage';
import { requestContext } from '../../test-support/route-context-fake.js';
import { LcrModule } from './lcr-module.js';

class FakeLcr implements LcrRepository {
  gws: LcrGatewayRow[] = [];
  rls: LcrRuleRow[] = [];
  tgs: LcrRuleTargetRow[] = [];
  async gateways(): Promise<LcrGatewayRow[]> {
    return this.gws;
  }
  async rules(): Promise<LcrRuleRow[]> {
    return this.rls;
  }
  async targets(): Promise<LcrRuleTargetRow[]> {
    return this.tgs;
  }
  async addGateway(): Promise<number> {
    throw new Error('not used');
  }
  async removeGateway(): Promise<boolean> {
    throw new Error('not used');
  }
  async addRule(): Promise<number> {
    throw new Error('not used');
  }
  async removeRule(): Promise<boolean> {
    throw new Error('not used');
  }
  async addTarget(): Promise<number> {
    throw new Error('not used');
  }
}

function gw(id: number, p: Partial<LcrGatewayRow> = {}): LcrGatewayRow {
  return { id, lcrId: 1, gwName: `gw${id}`, ipAddr: `192.0.2.${id}`, hostname: null, port: null, params: null, uriScheme: null, transport: null, strip: null, prefix: null, tag: null, flags: 0, defunct: null, ...p };
}
function rule(id: number, prefix: string, p: Partial<LcrRuleRow> = {}): LcrRuleRow {
  return { id, lcrId: 1, prefix, fromUri: null, requestUri: null, mtTvalue: null, stopper: 0, enabled: 1, ...p };
}
function target(ruleId: number, gwId: number, priority: number, weight = 1): LcrRuleTargetRow {
  return { id: ruleId * 100 + gwId, lcrId: 1, ruleId, gwId, priority, weight };
}

async function lcr(repo: FakeLcr, random: () => number = () => 0.5): Promise<LcrModule> {
  const m = new LcrModule({ lcrId: 1, frInvTimeoutMs: 30_000, reloadIntervalMs: 0 }, repo, silentLogger, random);
  await m.start();
  return m;
}

/** The R-URIs next_gw produces, in hunt order. */
function hunt(m: LcrModule, ruri: string, from = 'sip:alice@example.com'): string[] {
  const { ctx } = requestContext({ ruri, from });
  if (!m.loadGws(ctx)) return [];
  const out: string[] = [];
  while (m.nextGw(ctx)) out.push(ctx.request.uri.toString());
  return out;
}

describe('lcr: load_gws / next_gw with Kamailio 5.x semantics', () => {
  test('targets by priority, lower first; strip, prefix, port, transport and params per gateway', async () => {
    const repo = new FakeLcr();
    repo.gws = [gw(1, { prefix: '9', strip: 2, params: ';user=phone' }), gw(2, { port: 5080, transport: 2 })];
    repo.rls = [rule(1, '+1')];
    repo.tgs = [target(1, 1, 2), target(1, 2, 1)];
    const m = await lcr(repo);
    assert.deepEqual(hunt(m, 'sip:+12125551234@example.com'), ['sip:+12125551234@192.0.2.2:5080;transport=tcp', 'sip:92125551234@192.0.2.1;user=phone']);
  });

  test('longest prefix first; a stopper ends the search at its length', async () => {
    const repo = new FakeLcr();
    repo.gws = [gw(1), gw(2), gw(3)];
    repo.rls = [rule(1, '+1'), rule(2, '+1212'), rule(3, '')];
    repo.tgs = [target(1, 1, 1), target(2, 2, 5), target(3, 3, 1)];
    const m = await lcr(repo);
    assert.deepEqual(hunt(m, 'sip:+12125551234@x').map((u) => u.split('@')[1]), ['192.0.2.2', '192.0.2.1', '192.0.2.3']);
    repo.rls = [rule(1, '+1'), rule(2, '+1212', { stopper: 1 }), rule(3, '')];
    await m.reload();
    assert.deepEqual(hunt(m, 'sip:+12125551234@x').map((u) => u.split('@')[1]), ['192.0.2.2']);
  });

  test('from_uri and request_uri patterns select rules; no match = load_gws fails', async () => {
    const repo = new FakeLcr();
    repo.gws = [gw(1), gw(2)];
    repo.rls = [rule(1, '+1', { fromUri: '@premium\\.example\\.com$' }), rule(2, '+1', { requestUri: '^sip:\\+1800' })];
    repo.tgs = [target(1, 1, 1), target(2, 2, 1)];
    const m = await lcr(repo);
    assert.deepEqual(hunt(m, 'sip:+12125551234@x', 'sip:vip@premium.example.com').length, 1);
    assert.deepEqual(hunt(m, 'sip:+18005551234@x').length, 1);
    assert.deepEqual(hunt(m, 'sip:+12125551234@x'), []);
  });

  test('defunct gateways and disabled rules are skipped; a gateway appears once', async () => {
    const repo = new FakeLcr();
    repo.gws = [gw(1, { defunct: 4_294_967_295 }), gw(2), gw(3, { defunct: 1 })];
    repo.rls = [rule(1, '+1'), rule(2, '+12'), rule(3, '+121', { enabled: 0 })];
    repo.tgs = [target(1, 1, 1), target(1, 2, 1), target(2, 2, 1), target(2, 3, 2), target(3, 1, 1)];
    const m = await lcr(repo);
    // gw3's defunct time (1970) is past: it is back in service.
    assert.deepEqual(hunt(m, 'sip:+12125551234@x').map((u) => u.split('@')[1]), ['192.0.2.2', '192.0.2.3']);
  });

  test('equal priorities are ordered by weight at random', async () => {
    const repo = new FakeLcr();
    repo.gws = [gw(1), gw(2)];
    repo.rls = [rule(1, '')];
    repo.tgs = [target(1, 1, 1, 1), target(1, 2, 1, 3)];
    // A fixed draw: weight decides (3 × 0.5 beats 1 × 0.5).
    const fixed = await lcr(repo, () => 0.5);
    assert.deepEqual(hunt(fixed, 'sip:123@x').map((u) => u.split('@')[1]), ['192.0.2.2', '192.0.2.1']);
    // Draws that favour gw1 enough: 1 × 0.9 beats 3 × 0.1.
    const draws = [0.9, 0.1];
    const skewed = await lcr(repo, () => draws.shift() ?? 0.5);
    assert.deepEqual(hunt(skewed, 'sip:123@x').map((u) => u.split('@')[1]), ['192.0.2.1', '192.0.2.2']);
  });

  test('the hunt state lives on the context: a second transaction starts from the first gateway', async () => {
    const repo = new FakeLcr();
    repo.gws = [gw(1), gw(2)];
    repo.rls = [rule(1, '')];
    repo.tgs = [target(1, 1, 1), target(1, 2, 2)];
    const m = await lcr(repo);
    const a = requestContext({ ruri: 'sip:123@x' }).ctx;
    const b = requestContext({ ruri: 'sip:123@x' }).ctx;
    assert.ok(m.loadGws(a) && m.nextGw(a));
    assert.ok(m.loadGws(b) && m.nextGw(b));
    assert.equal(m.currentGateway(a)?.name, 'gw1');
    assert.equal(m.currentGateway(b)?.name, 'gw1');
    assert.ok(m.nextGw(a));
    assert.equal(m.currentGateway(a)?.name, 'gw2');
    assert.equal(m.nextGw(a), false);
  });
});
