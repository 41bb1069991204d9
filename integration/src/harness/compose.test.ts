/**
 * The lab's compose.yaml is valid for Compose (Debian's docker-compose validates the schema,
 * interpolation and profiles without a Docker engine) and every image it builds has its
 * Dockerfile in the repository.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from './paths.js';

const composeFile = join(repoRoot, 'compose.yaml');

interface ComposeService {
  image?: string;
  build?: { context?: string; dockerfile?: string; args?: Record<string, string> };
  profiles?: string[];
  networks?: unknown;
  healthcheck?: unknown;
}

function compose(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('docker-compose', ['-f', composeFile, ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 30_000 });
  if (r.error) {
    throw new Error(`docker-compose cannot run (${r.error.message}): install Debian's docker-compose (apt-get install docker-compose)`);
  }
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The file as Compose resolves it (interpolation, YAML merge keys applied). */
function resolved(): { services: Record<string, ComposeService> } {
  const r = compose(['--profile', 'phones', '--profile', 'asterisk', 'config']);
  assert.equal(r.status, 0, r.stderr);
  return parse(r.stdout) as { services: Record<string, ComposeService> };
}

const DEFAULT_SERVICES = ['mariadb', 'provision', 'proxy', 'rtp-relay', 'freeradius', 'radius-acct', 'voicemail-bridge', 'gw1', 'gw2'];
const LONG_RUNNING = DEFAULT_SERVICES.filter((s) => s !== 'provision');
const PHONES = ['phone-alice', 'phone-bob', 'phone-carol', 'nat-router'];

describe('compose.yaml (the lab)', () => {
  it('passes `docker-compose config -q`', () => {
    const r = compose(['config', '-q']);
    assert.equal(r.status, 0, r.stderr);
  });

  it('defines the whole lab, phones and Asterisk behind profiles', () => {
    const all = compose(['--profile', 'phones', '--profile', 'asterisk', 'config', '--services']);
    assert.equal(all.status, 0, all.stderr);
    const services = new Set(all.stdout.trim().split('\n'));
    for (const s of [...DEFAULT_SERVICES, 'asterisk', ...PHONES]) assert.ok(services.has(s), `service ${s} missing`);
    // `docker compose up` without profiles starts the provider itself, no phones.
    const doc = resolved();
    for (const s of DEFAULT_SERVICES) assert.equal(doc.services[s]?.profiles, undefined, `${s} must start by default`);
    assert.deepEqual(doc.services.asterisk?.profiles, ['asterisk']);
    for (const s of PHONES) assert.deepEqual(doc.services[s]?.profiles, ['phones']);
  });

  it('runs the proxy over the lab database after the one-shot provisioning', () => {
    const doc = resolved() as unknown as { services: Record<string, ComposeService & { command?: string[]; depends_on?: Record<string, { condition: string }> }> };
    const proxy = doc.services.proxy!;
    const db = proxy.command?.indexOf('--db') ?? -1;
    assert.ok(db >= 0 && /^mysql:\/\/[^@]+@mariadb:3306\/openser$/.test(proxy.command?.[db + 1] ?? ''), `proxy command: ${JSON.stringify(proxy.command)}`);
    assert.equal(proxy.depends_on?.provision?.condition, 'service_completed_successfully');
    assert.equal(doc.services.provision?.depends_on?.mariadb?.condition, 'service_healthy');
  });

  it('builds every image from a Dockerfile that exists, with healthchecks on the servers', () => {
    const doc = resolved();
    for (const [name, svc] of Object.entries(doc.services)) {
      if (svc.build === undefined) continue;
      // Compose prints the context as an absolute path.
      const dockerfile = join(svc.build.context ?? repoRoot, svc.build.dockerfile ?? 'Dockerfile');
      assert.ok(existsSync(dockerfile), `${name}: ${dockerfile} missing`);
    }
    // Services sharing an image: the one that builds it must be in the default set.
    for (const [name, svc] of Object.entries(doc.services)) {
      if (svc.build !== undefined || svc.image === undefined) continue;
      const builder = Object.entries(doc.services).find(([, o]) => o.image === svc.image && o.build !== undefined);
      assert.ok(builder, `${name}: nothing builds ${svc.image}`);
    }
    for (const name of LONG_RUNNING) {
      const svc = doc.services[name];
      const image = svc?.image;
      // A healthcheck in compose.yaml or in the image's Dockerfile (HEALTHCHECK).
      const builder = Object.values(doc.services).find((o) => o.image === image && o.build !== undefined);
      const dockerfile = builder?.build ? readFileSync(join(builder.build.context ?? repoRoot, builder.build.dockerfile ?? 'Dockerfile'), 'utf8') : '';
      assert.ok(svc?.healthcheck !== undefined || /^HEALTHCHECK /m.test(dockerfile), `${name} has no healthcheck`);
    }
  });
});
