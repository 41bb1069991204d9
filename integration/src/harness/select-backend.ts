/**
 * Picks the backend for this run: `native` unless INTEGRATION_BACKEND=containers asks for the
 * containers backend (which then needs a Docker engine, DOCKER_HOST or the default socket).
 * Opt-in rather than "containers whenever Docker answers": CI runs a Docker engine for the
 * lab, and every suite silently switching backend with it would change what `npm test`
 * proves. `scripts/run-tests.mjs --containers` runs the containers pass explicitly.
 * PROXY_UNDER_TEST=kamailio runs the proxy suites against Kamailio with the chapter-4 config
 * (docker/kamailio/standard.cfg) instead of our proxy: it proves the scenarios themselves
 * against a reference implementation.
 */
import type { Backend, BackendName, ProxyImplementation } from './backend.js';
import { ContainersBackend, dockerAvailable } from './containers-backend.js';
import { HarnessError } from './errors.js';
import { NativeBackend } from './native-backend.js';

export function proxyImplementation(env: NodeJS.ProcessEnv = process.env): ProxyImplementation {
  const v = (env.PROXY_UNDER_TEST ?? 'ours').toLowerCase();
  if (v === 'ours' || v === 'sip-proxy' || v === '') return 'ours';
  if (v === 'kamailio') return 'kamailio';
  throw new HarnessError('HARNESS_ERR_BACKEND', `PROXY_UNDER_TEST must be "ours" or "kamailio", not "${v}"`);
}

export async function backendName(env: NodeJS.ProcessEnv = process.env): Promise<BackendName> {
  const forced = env.INTEGRATION_BACKEND?.toLowerCase();
  if (forced === 'native') return 'native';
  if (forced === 'containers') {
    if (!(await dockerAvailable())) {
      throw new HarnessError('HARNESS_ERR_BACKEND', 'INTEGRATION_BACKEND=containers but no Docker engine answers (DOCKER_HOST or /var/run/docker.sock)');
    }
    return 'containers';
  }
  if (forced !== undefined && forced !== '') {
    throw new HarnessError('HARNESS_ERR_BACKEND', `INTEGRATION_BACKEND must be "native" or "containers", not "${forced}"`);
  }
  return 'native';
}

/** A backend for one test file; `label` names its work directory. Call close() in `after`. */
export async function createBackend(label: string): Promise<Backend> {
  const impl = proxyImplementation();
  return (await backendName()) === 'containers' ? new ContainersBackend(label, impl) : new NativeBackend(label, impl);
}
