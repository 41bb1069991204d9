/**
 * X.509 certificates for labs and tests, made by the `openssl` command line (node:crypto
 * generates keys but cannot build certificates). A certificate is either self-signed (the
 * proxy's lab certificate when none is configured; it is its own CA, so a phone can import
 * it as a trust anchor) or issued by a CA made the same way (client certificates for the
 * `verifyClient` tests). Keys are EC P-256: generated in milliseconds, accepted by every
 * TLS 1.2/1.3 stack we talk to.
 */
import { execFile } from 'node:child_process';
import { chmod, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';

export interface CertificateRequest {
  /** Directory the files are written to (must exist). */
  dir: string;
  /** Base name: `<name>.pem` (certificate) and `<name>.key` (private key, mode 0600). */
  name: string;
  commonName: string;
  /**
   * IP addresses and DNS names of the subjectAltName extension. RFC 5922 §7.1: SIP peers
   * match the host they connected to against these, not against the common name.
   */
  subjectAltNames: readonly string[];
  /** Validity in days. Default 825 (the longest lifetime TLS clients still accept). */
  days?: number;
  /** True: a CA certificate that signs others (`basicConstraints CA:TRUE`, keyCertSign). */
  authority?: boolean;
  /** Sign with this CA's key instead of self-signing. */
  issuer?: { certificateFile: string; privateKeyFile: string };
  /** The openssl executable. Default `openssl` on PATH. */
  openssl?: string;
}

export interface CertificateFiles {
  certificateFile: string;
  privateKeyFile: string;
  /** PEM text of both files. */
  certificate: string;
  privateKey: string;
}

// A SAN entry goes onto openssl's command line inside -addext: only host-name characters.
const DNS_NAME_RE = /^[A-Za-z0-9*](?:[A-Za-z0-9.-]{0,252})$/;
const NAME_RE = /^[A-Za-z0-9_.-]{1,64}$/;

function sanEntry(s: string): string {
  const host = s.startsWith('[') && s.endsWith(']') ? s.slice(1, -1) : s;
  if (net.isIP(host)) return `IP:${host}`;
  if (DNS_NAME_RE.test(host)) return `DNS:${host}`;
  throw new RangeError(`not an IP address or DNS name for subjectAltName: ${s}`);
}

function run(cmd: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 30_000 }, (err, _stdout, stderr) => {
      if (err === null) resolve();
      else reject(new Error(`${cmd} ${args[0] ?? ''} failed: ${stderr.trim() || err.message}`));
    });
  });
}

/** Creates a key and a certificate with `openssl req -x509` (OpenSSL 3.0+ for `-CA`). */
export async function createCertificate(req: CertificateRequest): Promise<CertificateFiles> {
  if (!NAME_RE.test(req.name)) throw new RangeError(`bad certificate file name: ${req.name}`);
  if (req.commonName.length === 0 || req.commonName.length > 64 || /[/\\=,+\r\n]/.test(req.commonName)) {
    throw new RangeError(`bad common name: ${req.commonName}`);
  }
  const san = req.subjectAltNames.map(sanEntry);
  const certificateFile = join(req.dir, `${req.name}.pem`);
  const privateKeyFile = join(req.dir, `${req.name}.key`);
  // `req` insists on a distinguished_name section; an empty config keeps the system's
  // openssl.cnf defaults (extensions we did not ask for) out of the certificate.
  const configFile = join(req.dir, `${req.name}.cnf`);
  await writeFile(configFile, '[req]\ndistinguished_name = dn\n[dn]\n', { mode: 0o600 });
  const args = [
    'req', '-x509', '-config', configFile,
    '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', privateKeyFile, '-out', certificateFile,
    '-days', String(req.days ?? 825),
    '-subj', `/CN=${req.commonName}`,
    '-addext', 'subjectKeyIdentifier=hash',
  ];
  if (req.authority === true || req.issuer === undefined) {
    // Self-signed certificates are their own trust anchor: CA:TRUE so peers can pin them.
    args.push('-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,digitalSignature,keyCertSign,cRLSign');
  } else {
    args.push('-addext', 'basicConstraints=critical,CA:FALSE', '-addext', 'keyUsage=critical,digitalSignature');
  }
  if (req.authority !== true) args.push('-addext', 'extendedKeyUsage=serverAuth,clientAuth');
  if (san.length > 0) args.push('-addext', `subjectAltName=${san.join(',')}`);
  if (req.issuer !== undefined) args.push('-CA', req.issuer.certificateFile, '-CAkey', req.issuer.privateKeyFile);
  try {
    await run(req.openssl ?? 'openssl', args);
  } finally {
    await rm(configFile, { force: true });
  }
  await chmod(privateKeyFile, 0o600);
  const [certificate, privateKey] = await Promise.all([readFile(certificateFile, 'utf8'), readFile(privateKeyFile, 'utf8')]);
  return { certificateFile, privateKeyFile, certificate, privateKey };
}
