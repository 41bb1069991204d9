import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { silentLogger } from '@voip/sip';
import type { AddressRepository, AddressRow, TrustedRepository, TrustedRow } from '@voip/storage';
import { requestContext } from '../../test-support/route-context-fake.js';
import { canonicalIp, PermissionsModule } from './permissions-module.js';

class FakeTrusted implements TrustedRepository {
  rows: TrustedRow[] = [];
  fail = false;
  async list(): Promise<TrustedRow[]> {
    if (this.fail) throw new Error('database down');
    return this.rows;
  }
  async add(): Promise<number> {
    throw new Error('not used');
  }
  async removeBySrcIp(): Promise<number> {
    throw new Error('not used');
  }
}

class FakeAddresses implements AddressRepository {
  rows: AddressRow[] = [];
  async list(): Promise<AddressRow[]> {
    return this.rows;
  }
  async add(): Promise<number> {
    throw new Error('not used');
  }
  async remove(): Promise<boolean> {
    throw new Error('not used');
  }
}

function trusted(p: Partial<TrustedRow> & { srcIp: string }): TrustedRow {
  return { id: 1, proto: 'any', fromPattern: null, ruriPattern: null, tag: null, priority: 0, ...p };
}

async function module(t: TrustedRow[], a: AddressRow[] = []): Promise<{ m: PermissionsModule; trustedRepo: FakeTrusted }> {
  const trustedRepo = new FakeTrusted();
  trustedRepo.rows = t;
  const addresses = new FakeAddresses();
  addresses.rows = a;
  const m = new PermissionsModule({ addressGroup: 1, reloadIntervalMs: 0 }, trustedRepo, addresses, silentLogger);
  await m.start();
  return { m, trustedRepo };
}

function from(address: string, o: { port?: number; protocol?: 'UDP' | 'TCP'; from?: string; ruri?: string } = {}) {
  return requestContext({ ruri: o.ruri ?? 'sip:bob@example.com', address, ...(o.port !== undefined ? { port: o.port } : {}), ...(o.protocol ? { protocol: o.protocol } : {}), ...(o.from ? { from: o.from } : {}) }).ctx;
}

describe('permissions: allow_trusted over the trusted table', () => {
  test('matches the source address and protocol; any matches every protocol', async () => {
    const { m } = await module([trusted({ srcIp: '192.0.2.50', proto: 'udp' }), trusted({ srcIp: '192.0.2.51' })]);
    assert.equal(m.allowTrusted(from('192.0.2.50')), true);
    assert.equal(m.allowTrusted(from('192.0.2.50', { protocol: 'TCP' })), false);
    assert.equal(m.allowTrusted(from('192.0.2.51', { protocol: 'TCP' })), true);
    assert.equal(m.allowTrusted(from('192.0.2.52')), false);
  });

  test('from_pattern and ruri_pattern must match as well', async () => {
    const { m } = await module([trusted({ srcIp: '192.0.2.50', fromPattern: '^sip:\\+?[0-9]+@', ruriPattern: '@example\\.com$' })]);
    assert.equal(m.allowTrusted(from('192.0.2.50', { from: 'sip:+12125550100@gw.example.net' })), true);
    assert.equal(m.allowTrusted(from('192.0.2.50', { from: 'sip:alice@gw.example.net' })), false);
    assert.equal(m.allowTrusted(from('192.0.2.50', { from: 'sip:123@gw', ruri: 'sip:bob@other.org' })), false);
  });

  test('a row with a dangerous pattern is skipped, the others stay', async () => {
    const { m } = await module([trusted({ srcIp: '192.0.2.50', fromPattern: '^(a+)+$' }), trusted({ id: 2, srcIp: '192.0.2.51' })]);
    assert.equal(m.size, 1);
    assert.equal(m.allowTrusted(from('192.0.2.50', { from: 'sip:aaaa@x' })), false);
    assert.equal(m.allowTrusted(from('192.0.2.51')), true);
  });

  test('IPv4-mapped IPv6 sources compare as IPv4; IPv6 rows compare canonically', async () => {
    assert.equal(canonicalIp('::FFFF:192.0.2.50'), '192.0.2.50');
    const { m } = await module([trusted({ srcIp: '192.0.2.50' }), trusted({ id: 2, srcIp: '2001:DB8::1' })]);
    assert.equal(m.allowTrusted(from('::ffff:192.0.2.50')), true);
    assert.equal(m.allowTrusted(from('2001:db8::1')), true);
  });

  test('a failed reload keeps the previous set; a good one replaces it', async () => {
    const { m, trustedRepo } = await module([trusted({ srcIp: '192.0.2.50' })]);
    trustedRepo.fail = true;
    assert.equal(await m.reload(), -1);
    assert.equal(m.allowTrusted(from('192.0.2.50')), true);
    trustedRepo.fail = false;
    trustedRepo.rows = [trusted({ srcIp: '192.0.2.60' })];
    assert.equal(await m.reload(), 1);
    assert.equal(m.allowTrusted(from('192.0.2.50')), false);
    assert.equal(m.allowTrusted(from('192.0.2.60')), true);
  });
});

describe('permissions: the address group', () => {
  const row = (p: Partial<AddressRow> & { ipAddr: string; mask: number }): AddressRow => ({ id: 1, grp: 1, port: 0, tag: null, ...p });

  test('CIDR ranges of the configured group, IPv4 and IPv6; other groups do not count', async () => {
    const { m } = await module([], [row({ ipAddr: '198.51.100.0', mask: 24 }), row({ id: 2, ipAddr: '2001:db8:1::', mask: 48 }), row({ id: 3, grp: 2, ipAddr: '203.0.113.0', mask: 24 })]);
    assert.equal(m.allowTrusted(from('198.51.100.77')), true);
    assert.equal(m.allowTrusted(from('198.51.101.1')), false);
    assert.equal(m.allowTrusted(from('2001:db8:1:ffff::5')), true);
    assert.equal(m.allowTrusted(from('2001:db8:2::5')), false);
    assert.equal(m.allowTrusted(from('203.0.113.5')), false);
  });

  test('a port other than 0 must match the source port', async () => {
    const { m } = await module([], [row({ ipAddr: '198.51.100.10', mask: 32, port: 5080 })]);
    assert.equal(m.allowTrusted(from('198.51.100.10', { port: 5080 })), true);
    assert.equal(m.allowTrusted(from('198.51.100.10', { port: 5060 })), false);
  });

  test('a bad mask is skipped', async () => {
    const { m } = await module([], [row({ ipAddr: '198.51.100.0', mask: 33 })]);
    assert.equal(m.size, 0);
  });
});
