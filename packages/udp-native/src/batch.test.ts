import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BATCH_HEAD, batchQueueWaitMs, forEachDatagram, ipv4Name, ipv6Name, META_WORDS } from './batch.js';

function v6bytes(groups: number[]): Uint8Array {
  const b = new Uint8Array(16);
  groups.forEach((g, i) => {
    b[2 * i] = g >> 8;
    b[2 * i + 1] = g & 255;
  });
  return b;
}

test('IPv4 words are written dotted-quad, one string per address', () => {
  assert.equal(ipv4Name(0x7f000001), '127.0.0.1');
  assert.equal(ipv4Name(0xc0a80a01), '192.168.10.1');
  assert.equal(ipv4Name(0xffffffff >>> 0), '255.255.255.255');
  assert.equal(ipv4Name(0), '0.0.0.0');
  assert.equal(ipv4Name(0x7f000001), ipv4Name(0x7f000001));
});

test('IPv6 addresses are written as RFC 5952 text, as Node reports peers', () => {
  const cases: [number[], string][] = [
    [[0, 0, 0, 0, 0, 0, 0, 1], '::1'],
    [[0, 0, 0, 0, 0, 0, 0, 0], '::'],
    [[0x2001, 0xdb8, 0, 0, 0, 0, 0, 1], '2001:db8::1'],
    // one zero group is not compressed (RFC 5952 §4.2.2)
    [[0x2001, 0xdb8, 0, 1, 1, 1, 1, 1], '2001:db8:0:1:1:1:1:1'],
    // the longest run wins; the first of equal runs (§4.2.3)
    [[0x2001, 0, 0, 1, 0, 0, 0, 1], '2001:0:0:1::1'],
    [[0x2001, 0xdb8, 0, 0, 1, 0, 0, 1], '2001:db8::1:0:0:1'],
    [[0xfe80, 0, 0, 0, 0x21a, 0x2bff, 0xfe3c, 0x4d5e], 'fe80::21a:2bff:fe3c:4d5e'],
    [[0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0280], '::ffff:192.0.2.128'],
    [[0xabcd, 0xef01, 0x2345, 0x6789, 0xabcd, 0xef01, 0x2345, 0x6789], 'abcd:ef01:2345:6789:abcd:ef01:2345:6789'],
  ];
  for (const [groups, text] of cases) assert.equal(ipv6Name(v6bytes(groups), 0), text, text);
});

test('a batch yields each datagram with its peer, in order, as views of the batch', () => {
  const datagrams = [Buffer.from('OPTIONS sip:a SIP/2.0\r\n\r\n'), Buffer.from('x'), Buffer.from('SIP/2.0 200 OK\r\n\r\n')];
  const count = datagrams.length;
  const head = BATCH_HEAD + count * META_WORDS * 4;
  const batch = Buffer.alloc(head + datagrams.reduce((n, d) => n + d.length, 0));
  batch.writeInt32LE(count, 0);
  batch.writeInt32LE(7, 4);
  batch.writeInt32LE(42, 8);
  let offset = 0;
  datagrams.forEach((d, i) => {
    const m = BATCH_HEAD + i * META_WORDS * 4;
    batch.writeInt32LE(offset, m);
    batch.writeInt32LE(d.length, m + 4);
    batch.writeInt32LE(5060 + i, m + 8);
    if (i === 1) {
      batch.writeInt32LE(6, m + 12);
      Buffer.from(v6bytes([0, 0, 0, 0, 0, 0, 0, 1])).copy(batch, m + 16);
    } else {
      batch.writeInt32LE(4, m + 12);
      batch.writeInt32LE(0x7f000001 + i, m + 16);
    }
    d.copy(batch, head + offset);
    offset += d.length;
  });
  const seen: [string, string, number, boolean][] = [];
  const queued = forEachDatagram(batch, (d, address, port) => seen.push([d.toString(), address, port, d.buffer === batch.buffer]));
  assert.equal(queued, 7, 'datagrams still queued after the batch');
  assert.equal(batchQueueWaitMs(batch), 42);
  assert.deepEqual(seen, [
    ['OPTIONS sip:a SIP/2.0\r\n\r\n', '127.0.0.1', 5060, true],
    ['x', '::1', 5061, true],
    ['SIP/2.0 200 OK\r\n\r\n', '127.0.0.3', 5062, true],
  ]);
});
