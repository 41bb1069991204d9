import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseProcNetUdp, parseSsReceiveBuffers, parseUdpSnmp, readSocketDrops } from './udp-counters.js';

const SNMP = `Ip: Forwarding DefaultTTL
Ip: 1 64
Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
Udp: 1000 3 17 990 17 0 0 0 0
UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
UdpLite: 0 0 0 0 0 0 0 0 0
`;

const UDP = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  100: 0100007F:13C4 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 5001 2 0000000000000000 12
  101: 0100007F:13C4 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 5002 2 0000000000000000 30
  102: 0100007F:13C5 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 5003 2 0000000000000000 7
`;

describe('parseUdpSnmp', () => {
  it('reads the Udp: counters and not UdpLite:', () => {
    const c = parseUdpSnmp(SNMP);
    assert.equal(c.get('RcvbufErrors'), 17);
    assert.equal(c.get('InDatagrams'), 1000);
    assert.equal(c.size, 9);
  });
  it('returns nothing for text without Udp lines', () => {
    assert.equal(parseUdpSnmp('Ip: a\nIp: 1\n').size, 0);
  });
});

describe('per-socket drops', () => {
  it('parses local port, inode and drops', () => {
    assert.deepEqual(parseProcNetUdp(UDP)[0], { localPort: 5060, inode: 5001, drops: 12 });
  });
  const dir = mkdtempSync(join(tmpdir(), 'bench-net-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'udp'), UDP);
  writeFileSync(join(dir, 'udp6'), UDP.split('\n').slice(0, 2).join('\n'));
  it('sums every socket on the ports, IPv4 and IPv6 (several workers may share a port)', () => {
    assert.equal(readSocketDrops(new Set([5060]), dir), 12 + 30 + 12);
    assert.equal(readSocketDrops(new Set([5061]), dir), 7);
    assert.equal(readSocketDrops(new Set([9]), dir), 0);
  });
});

describe('parseSsReceiveBuffers', () => {
  it('reads rb of every socket listed', () => {
    const out =
      'UNCONN 0 0 127.0.0.1:47124 0.0.0.0:*\n\t skmem:(r0,rb8388608,t0,tb212992,f0,w0,o0,bl0,d0)\n' +
      'UNCONN 0 0 127.0.0.1:47124 0.0.0.0:*\n\t skmem:(r0,rb212992,t0,tb212992,f0,w0,o0,bl0,d3)\n';
    assert.deepEqual(parseSsReceiveBuffers(out), [8388608, 212992]);
    assert.deepEqual(parseSsReceiveBuffers(''), []);
  });
});
