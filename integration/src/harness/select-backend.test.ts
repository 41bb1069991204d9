/**
 * Backend selection: `native` unless the containers backend is asked for, whether or not a
 * Docker engine answers (CI runs one for the lab; the suites must not switch with it).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { backendName, proxyImplementation } from './select-backend.js';

describe('backend selection', () => {
  it('is native when INTEGRATION_BACKEND is unset or empty, even with DOCKER_HOST set', async () => {
    assert.equal(await backendName({ DOCKER_HOST: 'unix:///run/voip-docker.sock' }), 'native');
    assert.equal(await backendName({ INTEGRATION_BACKEND: '' }), 'native');
    assert.equal(await backendName({ INTEGRATION_BACKEND: 'Native' }), 'native');
  });

  it('refuses an unknown backend name', async () => {
    await assert.rejects(backendName({ INTEGRATION_BACKEND: 'podman' }), /must be "native" or "containers"/);
  });

  it('names the proxy under test', () => {
    assert.equal(proxyImplementation({}), 'ours');
    assert.equal(proxyImplementation({ PROXY_UNDER_TEST: 'kamailio' }), 'kamailio');
    assert.throws(() => proxyImplementation({ PROXY_UNDER_TEST: 'asterisk' }), /PROXY_UNDER_TEST/);
  });
});
