import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configFromEnv, loadConfig } from './config.js';
import { PortalError } from './errors.js';

describe('portal config', () => {
  it('fills defaults, freezes, and takes the environment', () => {
    const c = loadConfig({ db: 'mysql://u:p@127.0.0.1/openser' }, configFromEnv({ VOIP_PORTAL_LISTEN: '127.0.0.1:9000', VOIP_PORTAL_ADMIN_USER: 'admin', VOIP_PORTAL_ADMIN_PASSWORD: 'long-enough', VOIP_PORTAL_PROXY_ADMIN: 'http://127.0.0.1:8080/' }));
    assert.deepEqual(c.listen, { address: '127.0.0.1', port: 9000 });
    assert.equal(c.proxyAdminUrl, 'http://127.0.0.1:8080');
    assert.deepEqual(c.admin, { user: 'admin', password: 'long-enough' });
    assert.equal(c.session.secureCookie, true);
    assert.equal(c.scryptCost, 32768);
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.session));
  });

  it('refuses what would be unsafe or cannot work, with the path in the message', () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ db: 'postgres://x' }, /db: db must be/],
      [{ db: 'file:p.yaml', listen: '0.0.0.0:8090', session: { secureCookie: false } }, /secureCookie may be false only/],
      [{ db: 'file:p.yaml', scryptCost: 20000 }, /power of two/],
      [{ db: 'file:p.yaml', scryptCost: 1024 }, /scryptCost/],
      [{ db: 'file:p.yaml', admin: { user: 'admin' } }, /admin needs both/],
      [{ db: 'file:p.yaml', listen: 'nowhere' }, /listen must look like HOST:PORT/],
      [{ db: 'file:p.yaml', unknown: 1 }, /unrecognized|Unrecognized/],
    ];
    for (const [layer, re] of bad) {
      assert.throws(() => loadConfig(layer), (e: unknown) => e instanceof PortalError && e.code === 'PORTAL_ERR_CONFIG' && re.test(e.message), JSON.stringify(layer));
    }
    assert.doesNotThrow(() => loadConfig({ db: 'file:p.yaml', listen: '127.0.0.1:0', session: { secureCookie: false } }));
  });
});
