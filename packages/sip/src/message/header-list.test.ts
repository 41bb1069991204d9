import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HeaderList } from './header-list.js';

function list(): HeaderList {
  return HeaderList.from([
    ['Via', 'SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b;branch=z9hG4bK2'],
    ['v', 'SIP/2.0/UDP c;branch=z9hG4bK3'],
    ['Route', '<sip:p1;lr>, <sip:p2;lr>'],
    ['Contact', '"Doe, John" <sip:j@d;x=a,b>, <sip:k@e>'],
    ['Subject', 'hi'],
  ]);
}

describe('HeaderList', () => {
  it('get, getAll, values, has, count across compact and long names', () => {
    const h = list();
    assert.equal(h.get('VIA'), 'SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b;branch=z9hG4bK2');
    assert.equal(h.getAll('via').length, 2);
    assert.equal(h.count('v'), 2);
    assert.deepEqual(h.values('Via'), ['SIP/2.0/UDP a;branch=z9hG4bK1', 'SIP/2.0/UDP b;branch=z9hG4bK2', 'SIP/2.0/UDP c;branch=z9hG4bK3']);
    assert.deepEqual(h.values('m'), ['"Doe, John" <sip:j@d;x=a,b>', '<sip:k@e>']);
    assert.ok(h.has('s'));
    assert.ok(!h.has('Max-Forwards'));
    assert.equal(h.get('Max-Forwards'), undefined);
    assert.deepEqual(h.values('x-none'), []);
  });

  it('set replaces all lines at the first position', () => {
    const h = list();
    const v0 = h.version;
    h.set('via', 'SIP/2.0/TCP z');
    assert.ok(h.version > v0);
    assert.deepEqual(h.getAll('via'), ['SIP/2.0/TCP z']);
    assert.equal([...h][0].name, 'via');
    h.set('Max-Forwards', '70');
    assert.equal([...h].at(-1)?.name, 'max-forwards');
  });

  it('prepend goes before the first line of the name, or to the top', () => {
    const h = list();
    h.prepend('Record-Route', '<sip:me;lr>');
    assert.equal([...h][0].name, 'record-route');
    h.prepend('Route', '<sip:p0;lr>');
    assert.deepEqual(h.values('route'), ['<sip:p0;lr>', '<sip:p1;lr>', '<sip:p2;lr>']);
    h.insertAt(99, 'X-Foo', '1');
    assert.equal([...h].at(-1)?.name, 'x-foo');
    h.insertAt(0, 'x', '90'); // compact form of Session-Expires
    assert.equal([...h][0].name, 'session-expires');
  });

  it('removeFirstValue pops one comma value or the whole line', () => {
    const h = list();
    assert.equal(h.removeFirstValue('route'), '<sip:p1;lr>');
    assert.deepEqual(h.getAll('route'), ['<sip:p2;lr>']);
    assert.equal(h.removeFirstValue('route'), '<sip:p2;lr>');
    assert.ok(!h.has('route'));
    assert.equal(h.removeFirstValue('route'), undefined);
  });

  it('replaceFirstValue keeps the other values of the line', () => {
    const h = list();
    h.replaceFirstValue('via', 'SIP/2.0/UDP a;branch=z9hG4bK1;received=1.2.3.4');
    assert.deepEqual(h.values('via')[0], 'SIP/2.0/UDP a;branch=z9hG4bK1;received=1.2.3.4');
    assert.equal(h.values('via').length, 3);
  });

  it('remove drops every line; version only bumps on change', () => {
    const h = list();
    h.remove('v');
    assert.ok(!h.has('via'));
    const v = h.version;
    h.remove('via');
    assert.equal(h.version, v);
  });

  it('clone is independent', () => {
    const h = list();
    const c = h.clone();
    c.append('X-Foo', '1');
    c.set('subject', 'changed');
    assert.ok(!h.has('x-foo'));
    assert.equal(h.get('subject'), 'hi');
  });
});
