/**
 * TLS configuration (docs/tls.md): `tls:` listen addresses with the 5061 default, the `tls`
 * section's rules, and the lab certificate: generated once into <stateDir>/tls/, reused by the
 * next start, regenerated when the names it must cover change; configured files win.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { createCertificate, silentLogger } from '@voip/sip';
import { ConfigError, parseConfig } from './config.js';
import { labCertificateNames, listensOnTls, loadTlsCredentials } from './tls-credentials.js';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'proxy-tls-cred-'));
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('tls: listen addresses: explicit port, default 5061 (RFC 3261 §19.1.2), IPv6 in brackets', () => {
  const c = parseConfig({ listen: ['tls:127.0.0.1:5063', 'tls:[::1]', 'udp:127.0.0.1'] });
  assert.deepEqual(c.listen, [
    { protocol: 'TLS', address: '127.0.0.1', port: 5063 },
    { protocol: 'TLS', address: '::1', port: 5061 },
    { protocol: 'UDP', address: '127.0.0.1', port: 5060 },
  ]);
  assert.equal(listensOnTls(c), true);
  assert.equal(listensOnTls(parseConfig({ listen: ['udp:127.0.0.1:5060'] })), false);
  assert.throws(() => parseConfig({ listen: ['tls:127.0.0.1:70000'] }), ConfigError);
  assert.throws(() => parseConfig({ listen: ['dtls:127.0.0.1:5061'] }), ConfigError);
});

test('tls section: defaults, certificate and key together, verification needs a CA', () => {
  const c = parseConfig({});
  assert.deepEqual(c.tls, { verifyClient: false, verifyServer: false, minVersion: 'TLSv1.2' });
  assert.throws(() => parseConfig({ tls: { certificate: '/x.pem' } }), (e: unknown) => e instanceof ConfigError && /certificate and tls\.privateKey/.test(e.message));
  assert.throws(() => parseConfig({ tls: { verifyClient: true } }), (e: unknown) => e instanceof ConfigError && /need tls\.ca/.test(e.message));
  assert.throws(() => parseConfig({ tls: { minVersion: 'TLSv1.1' } }), ConfigError);
  assert.throws(() => parseConfig({ tls: { bogus: 1 } }), ConfigError);
  assert.equal(parseConfig({ tls: { verifyClient: true, ca: '/ca.pem' } }).tls.verifyClient, true);
});

test('the lab certificate names the listen addresses, the advertised address and the domains, not wildcards', () => {
  const c = parseConfig({ listen: ['tls:0.0.0.0:5061', 'udp:192.0.2.10:5060'], advertisedAddress: '203.0.113.5', domains: ['sip.example.test', 'bad_name.test'] });
  assert.deepEqual(labCertificateNames(c), ['127.0.0.1', '192.0.2.10', '203.0.113.5', '::1', 'localhost', 'sip.example.test']);
});

test('the lab certificate is generated once, reused on the next start, and remade when the names change', async () => {
  const stateDir = tempDir();
  const config = parseConfig({ listen: ['tls:127.0.0.1:5061'], stateDir });
  const first = await loadTlsCredentials(config, silentLogger);
  const x = new X509Certificate(first.certificate);
  assert.equal(x.subject, x.issuer); // self-signed
  assert.match(x.subjectAltName ?? '', /IP Address:127\.0\.0\.1/);
  assert.equal(x.checkPrivateKey(createPrivateKey(first.privateKey)), true);
  const again = await loadTlsCredentials(config, silentLogger);
  assert.equal(again.certificate, first.certificate);
  assert.equal(readdirSync(join(stateDir, 'tls')).filter((f) => f.endsWith('.pem')).length, 1);
  const wider = await loadTlsCredentials(parseConfig({ listen: ['tls:127.0.0.1:5061'], stateDir, domains: ['sip.example.test'] }), silentLogger);
  assert.notEqual(wider.certificate, first.certificate);
  assert.match(new X509Certificate(wider.certificate).subjectAltName ?? '', /DNS:sip\.example\.test/);
});

test('configured certificate, key and CA files are used as they are, with the verification policy', async () => {
  const dir = tempDir();
  const ca = await createCertificate({ dir, name: 'ca', commonName: 'ops CA', subjectAltNames: [], authority: true });
  const leaf = await createCertificate({ dir, name: 'proxy', commonName: 'proxy', subjectAltNames: ['127.0.0.1'], issuer: { certificateFile: ca.certificateFile, privateKeyFile: ca.privateKeyFile } });
  const config = parseConfig({
    listen: ['tls:127.0.0.1:5061'],
    stateDir: join(dir, 'state'),
    tls: { certificate: leaf.certificateFile, privateKey: leaf.privateKeyFile, ca: ca.certificateFile, verifyClient: true, minVersion: 'TLSv1.3' },
  });
  const creds = await loadTlsCredentials(config, silentLogger);
  assert.equal(creds.certificate, leaf.certificate);
  assert.equal(creds.privateKey, leaf.privateKey);
  assert.equal(creds.ca, ca.certificate);
  assert.equal(creds.verifyClient, true);
  assert.equal(creds.minVersion, 'TLSv1.3');
  // Nothing generated when a certificate is configured.
  assert.throws(() => readdirSync(join(dir, 'state', 'tls')));
  await assert.rejects(loadTlsCredentials(parseConfig({ listen: ['tls:127.0.0.1:5061'], tls: { certificate: join(dir, 'missing.pem'), privateKey: leaf.privateKeyFile } }), silentLogger), /cannot read tls\.certificate/);
});
