/**
 * The TLS credentials of the proxy's `tls:` listeners (docs/tls.md): the configured PEM files,
 * or, when none are configured, a self-signed lab certificate generated at start with
 * `openssl req -x509` (node:crypto cannot build X.509) and kept in `<stateDir>/tls/`, so a
 * restarted proxy presents the same certificate and a phone that imported it keeps trusting it.
 * The file name carries a hash of the names the certificate covers: adding a listen address
 * or a domain makes a new one instead of serving a certificate that does not name the host.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { createCertificate, type Logger, type TlsCredentials } from '@voip/sip';
import type { ProxyConfig } from './config.js';
import { defaultStateDir } from './modules/auth/nonce-secret-store.js';

const WILDCARDS = new Set(['0.0.0.0', '::']);

/** True when the configuration listens on TLS anywhere. */
export function listensOnTls(config: ProxyConfig): boolean {
  return config.listen.some((l) => l.protocol === 'TLS');
}

/**
 * subjectAltName entries of the lab certificate: the listen addresses (not wildcards), the
 * advertised address and the served domains (RFC 5922 §7.1: a client matches the host of the
 * URI it dialled), plus loopback for local tools.
 */
export function labCertificateNames(config: ProxyConfig): string[] {
  const names = new Set<string>(['127.0.0.1', '::1', 'localhost']);
  for (const l of config.listen) if (!WILDCARDS.has(l.address)) names.add(l.address.toLowerCase());
  if (config.advertisedAddress !== undefined) names.add(config.advertisedAddress.toLowerCase());
  for (const d of config.domains) names.add(d.toLowerCase());
  // A name openssl would refuse (e.g. an underscore in a domain) must not stop the proxy.
  return [...names].filter((n) => isIP(n) !== 0 || /^[a-z0-9*][a-z0-9.-]{0,252}$/.test(n)).sort();
}

function readPem(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read tls.${what} ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * The credentials for TransportLayer's `tls` option. Configured files are read as they are;
 * otherwise the lab certificate is loaded from, or created in, the state directory.
 */
export async function loadTlsCredentials(config: ProxyConfig, logger: Logger): Promise<TlsCredentials> {
  const t = config.tls;
  const policy = {
    verifyClient: t.verifyClient,
    verifyServer: t.verifyServer,
    minVersion: t.minVersion,
    ...(t.ca !== undefined ? { ca: readPem(t.ca, 'ca') } : {}),
  };
  if (t.certificate !== undefined && t.privateKey !== undefined) {
    return { certificate: readPem(t.certificate, 'certificate'), privateKey: readPem(t.privateKey, 'privateKey'), ...policy };
  }
  const names = labCertificateNames(config);
  const dir = join(defaultStateDir(config.stateDir), 'tls');
  const name = `lab-${createHash('sha256').update(names.join(',')).digest('hex').slice(0, 12)}`;
  const log = logger.child({ layer: 'proxy.tls' });
  try {
    const certificate = readFileSync(join(dir, `${name}.pem`), 'utf8');
    const privateKey = readFileSync(join(dir, `${name}.key`), 'utf8');
    log.info({ certificate: join(dir, `${name}.pem`) }, 'tls: using the self-signed lab certificate (set tls.certificate for production)');
    return { certificate, privateKey, ...policy };
  } catch {
    // Not made yet (or half made by a crash): make it.
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const files = await createCertificate({ dir, name, commonName: 'sip-proxy lab certificate', subjectAltNames: names });
  log.warn({ certificate: files.certificateFile, names }, 'tls: no certificate configured; generated a self-signed lab certificate (phones must import it to verify the proxy)');
  return { certificate: files.certificate, privateKey: files.privateKey, ...policy };
}
