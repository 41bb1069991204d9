/**
 * The lab's compose.yaml is valid for Compose (Debian's docker-compose validates the schema,
 * interpolation and profiles without a Docker engine) and every image it builds has its
 * Dockerfile in the repository.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
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
  const r = compose(['--profile', 'phones', '--profile', 'voicemail', 'config']);
  assert.equal(r.status, 0, r.stderr);
  return parse(r.stdout) as { services: Record<string, ComposeService> };
}

describe('compose.yaml (the lab)', () => {
  it('passes `docker-compose config -q`', () => {
    const r = compose(['config', '-q']);
    assert.equal(r.status, 0, r.stderr);
  });

  it('defines the whole lab, phones and voicemail behind profiles', () => {
    const all = compose(['--profile', 'phones', '--profile', 'voicemail', 'config', '--services']);
    assert.equal(all.status, 0, all.stderr);
    const services = new Set(all.stdout.trim().split('\n'));
    for (const s of ['mariadb', 'proxy', 'rtpproxy', 'freeradius', 'radius-acct', 'asterisk', 'phone-alice', 'phone-bob', 'phone-bob-register']) {
      assert.ok(services.has(s), `service ${s} missing`);
    }
    // `docker compose up` without profiles starts the infrastructure only.
    const doc = resolved();
    for (const s of ['mariadb', 'proxy', 'rtpproxy', 'freeradius', 'radius-acct']) assert.equal(doc.services[s]?.profiles, undefined, `${s} must start by default`);
    assert.deepEqual(doc.services.asterisk?.profiles, ['voicemail']);
    for (const s of ['phone-alice', 'phone-bob', 'phone-bob-register']) assert.deepEqual(doc.services[s]?.profiles, ['phones']);
  });

  it('builds every image from a Dockerfile that exists, with healthchecks on the servers', () => {
    const doc = resolved();
    for (const [name, svc] of Object.entries(doc.services)) {
      if (svc.build === undefined) continue;
      // Compose prints the context as an absolute path.
      const dockerfile = join(svc.build.context ?? repoRoot, svc.build.dockerfile ?? 'Dockerfile');
      assert.ok(existsSync(dockerfile), `${name}: ${dockerfile} missing`);
      if (svc.build.args?.SERVICE) {
        assert.ok(existsSync(join(repoRoot, 'services', svc.build.args.SERVICE, 'package.json')), `${name}: no service ${svc.build.args.SERVICE}`);
      }
    }
    for (const name of ['mariadb', 'proxy', 'rtpproxy', 'freeradius', 'radius-acct']) {
      assert.ok(doc.services[name]?.healthcheck, `${name} has no healthcheck`);
    }
  });
});
