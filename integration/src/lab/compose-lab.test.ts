/**
 * The compose lab (compose.yaml) as a user runs it: `docker compose up -d --wait`, then SIPp
 * phones on the lab's own networks register with digest auth and call through the composed
 * proxy (provider route over the lab's MariaDB, demo data written by the `provision`
 * container with sipctl), a PSTN number fails over from the first gateway to the second, the
 * calls reach FreeRADIUS through radius-acct, one phone is behind the lab's NAT router;
 * `docker compose down -v`
 * at the end leaves no container, network or volume of the project behind.
 *
 * Needs a Docker engine with Compose v2 and the lab's images (scripts/docker/build-images.sh),
 * so it runs only in the compose pass: `node scripts/run-tests.mjs --compose` (LAB_COMPOSE=1),
 * which `npm test` enables on CI when Docker answers. A lab that is already up (same
 * project) is used as it is and left running.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { repoRoot } from '../harness/paths.js';

const DOMAIN = process.env.LAB_SIP_DOMAIN ?? 'voip.lab';
const ADMIN = `http://127.0.0.1:${process.env.LAB_PROXY_ADMIN_PORT ?? '8080'}`;
/** nat-router's address on the sip network: what the proxy sees as carol's source. */
const ROUTER_WAN_IP = process.env.LAB_ROUTER_WAN_IP ?? '172.30.45.30';
const CAROL_IP = process.env.LAB_CAROL_IP ?? '172.30.46.20';

interface Run {
  code: number | null;
  out: string;
}

/** `docker compose ARGS` in the repository (compose.yaml), output interleaved. */
function compose(args: readonly string[], timeoutMs: number, env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn('docker', ['compose', ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    const keep = (c: Buffer): void => {
      out = (out + c.toString()).slice(-64 * 1024);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`docker compose cannot run: ${err.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

async function composeOk(args: readonly string[], timeoutMs: number): Promise<string> {
  const r = await compose(args, timeoutMs);
  assert.equal(r.code, 0, `docker compose ${args.join(' ')} exited ${String(r.code)}:\n${r.out.slice(-6000)}`);
  return r.out;
}

async function proxyHealthy(): Promise<boolean> {
  try {
    return (await fetch(`${ADMIN}/health`, { signal: AbortSignal.timeout(2000) })).ok;
  } catch {
    return false;
  }
}

interface AdminBinding {
  contact?: string;
  received?: string | null;
  [k: string]: unknown;
}

/** The proxy's bindings of an AOR (admin API GET /location/:aor); [] when none. */
async function bindings(aor: string): Promise<AdminBinding[]> {
  const r = await fetch(`${ADMIN}/location/${encodeURIComponent(aor)}`, { signal: AbortSignal.timeout(2000) });
  if (r.status === 404) return [];
  assert.equal(r.status, 200, `GET /location/${aor}: ${r.status}`);
  const body = (await r.json()) as { bindings?: AdminBinding[] } | AdminBinding[];
  return Array.isArray(body) ? body : (body.bindings ?? []);
}

/** Polls until `aor` has a binding (a phone's REGISTER went through), at most `ms`. */
async function waitForBinding(aor: string, ms: number): Promise<AdminBinding[]> {
  const until = Date.now() + ms;
  for (;;) {
    const b = await bindings(aor);
    if (b.length > 0) return b;
    if (Date.now() > until) throw new Error(`${aor} did not register within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('compose lab (docker compose up)', { timeout: 15 * 60_000 }, () => {
  let startedHere = false;

  before(async () => {
    if (process.env.LAB_COMPOSE !== '1') {
      throw new Error('this suite drives the compose lab: run it with LAB_COMPOSE=1 (node scripts/run-tests.mjs --compose)');
    }
    if (await proxyHealthy()) return;
    startedHere = true;
    const t0 = Date.now();
    await composeOk(['up', '-d', '--wait'], 10 * 60_000);
    console.log(`compose lab healthy after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  });

  after(async () => {
    // Phones first (profile services are not removed by a plain `down`).
    await compose(['--profile', 'phones', 'rm', '-sf'], 60_000);
    if (startedHere) {
      const logs = await compose(['logs', '--no-color', '--tail', '200', 'proxy', 'provision'], 30_000);
      if (process.env.INTEGRATION_KEEP_LOGS) console.log(logs.out);
      await composeOk(['--profile', 'phones', '--profile', 'asterisk', 'down', '-v', '--remove-orphans'], 120_000);
    }
  });

  it('brings every default service up healthy and provisions the demo data once', async () => {
    const out = await composeOk(['ps', '-a', '--format', '{{.Service}}|{{.State}}|{{.Health}}|{{.ExitCode}}'], 30_000);
    const rows = new Map(out.trim().split('\n').map((l) => {
      const [service = '', state = '', health = '', exit = ''] = l.trim().split('|');
      return [service, { state, health, exit }] as const;
    }));
    const longRunning = ['mariadb', 'proxy', 'rtp-relay', 'freeradius', 'radius-acct', 'voicemail-bridge', 'gw1', 'gw2'];
    for (const s of longRunning) {
      const r = rows.get(s);
      assert.ok(r, `service ${s} missing:\n${out}`);
      assert.equal(r.state, 'running', `${s}: ${out}`);
    }
    for (const s of longRunning) {
      assert.equal(rows.get(s)?.health, 'healthy', `${s} not healthy:\n${out}`);
    }
    assert.equal(rows.get('provision')?.state, 'exited');
    assert.equal(rows.get('provision')?.exit, '0');
    const log = await composeOk(['logs', '--no-color', 'provision'], 30_000);
    assert.match(log, /demo data of \S+ written|demo data left as it is/);
  });

  it('alice and bob register with digest auth and alice calls bob through the proxy', async () => {
    // A binding left by an earlier run would make the wait below return before this bob runs.
    await fetch(`${ADMIN}/location/${encodeURIComponent(`bob@${DOMAIN}`)}`, { method: 'DELETE', signal: AbortSignal.timeout(2000) });
    await composeOk(['--profile', 'phones', 'up', '-d', '--force-recreate', 'phone-bob'], 120_000);
    const bob = await waitForBinding(`bob@${DOMAIN}`, 30_000);
    assert.ok(bob.some((b) => String(b.contact).includes('172.30.45.21')), JSON.stringify(bob));
    // phone-alice: REGISTER (401, digest) then INVITE (407, digest) -> 200 -> ACK -> BYE;
    // SIPp exits 0 only when every message of both scenarios arrived as written.
    const alice = await compose(['--profile', 'phones', 'run', '--rm', 'phone-alice'], 120_000);
    assert.equal(alice.code, 0, `phone-alice exited ${String(alice.code)}:\n${alice.out.slice(-5000)}`);
    assert.ok((await bindings(`alice@${DOMAIN}`)).length > 0, 'alice has no binding after her REGISTER');
  });

  it("alice's call is in acc and reaches FreeRADIUS through radius-acct as Start and Stop", async () => {
    // The proxy's acc rows (ch. 5 accounting) for the last answered INVITE from alice's phone.
    const rootPw = process.env.LAB_DB_ROOT_PASSWORD ?? 'rootpw';
    const sql = "SELECT callid FROM acc WHERE method='INVITE' AND sip_code='200' AND callid LIKE '%@172.30.45.20' ORDER BY id DESC LIMIT 1";
    const callId = (await composeOk(['exec', '-T', 'mariadb', 'mariadb', '-uroot', `-p${rootPw}`, 'openser', '-N', '-B', '-e', sql], 30_000)).trim();
    assert.match(callId, /@172\.30\.45\.20$/, `no answered INVITE of alice in acc: "${callId}"`);
    // radius-acct follows acc and sends Accounting-Request; FreeRADIUS writes detail files.
    const until = Date.now() + 30_000;
    for (;;) {
      const detail = (await compose(['exec', '-T', 'freeradius', 'sh', '-c', 'cat /var/log/freeradius/radacct/*/detail-* 2>/dev/null || true'], 30_000)).out;
      const records = detail.split(/\n(?=\S)/).filter((r) => r.includes(`Acct-Session-Id = "${callId}"`));
      const types = records.map((r) => /Acct-Status-Type = (\w+)/.exec(r)?.[1]);
      if (types.includes('Start') && types.includes('Stop')) break;
      if (Date.now() > until) assert.fail(`no Start and Stop for ${callId} in FreeRADIUS' detail files:\n${detail.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  });

  it('a PSTN number: gw1 answers 503, LCR fails over to gw2, which gets the E.164 number', async () => {
    // A number of its own per run, so the gateways' logs of earlier runs cannot match.
    const line = String(1000 + Math.floor(Math.random() * 9000));
    const dialled = `1212555${line}`; // 1 + 10 digits: long distance (alice is in group ld)
    const e164 = `+1212555${line}`; // ch. 7 dial plan: strip 1, prefix +1
    const alice = await compose(['--profile', 'phones', 'run', '--rm', 'phone-alice'], 120_000, { LAB_CALLEE: dialled });
    assert.equal(alice.code, 0, `phone-alice calling ${dialled} exited ${String(alice.code)}:\n${alice.out.slice(-5000)}`);
    const gw1 = await composeOk(['logs', '--no-color', 'gw1'], 30_000);
    const gw2 = await composeOk(['logs', '--no-color', 'gw2'], 30_000);
    // docker/pstn-gateway: each gateway logs "gateway: INVITE <R-URI> -> <answer>".
    assert.match(gw1, new RegExp(`gateway: INVITE sip:\\${e164}@\\S+ -> 503`), `gw1 was not tried first:\n${gw1.slice(-2000)}`);
    assert.match(gw2, new RegExp(`gateway: INVITE sip:\\${e164}@\\S+ -> 200`), `gw2 did not answer:\n${gw2.slice(-2000)}`);
  });

  it('carol behind the NAT router registers (the proxy sees the router) and calls bob', async () => {
    const carol = await compose(['--profile', 'phones', 'run', '--rm', 'phone-carol'], 120_000);
    assert.equal(carol.code, 0, `phone-carol exited ${String(carol.code)}:\n${carol.out.slice(-5000)}`);
    // Her Contact names her private address; the REGISTER arrived from the router's.
    const b = await bindings(`carol@${DOMAIN}`);
    assert.ok(b.length > 0, 'carol has no binding');
    const text = JSON.stringify(b);
    assert.ok(text.includes(CAROL_IP), `carol's binding does not keep her private Contact: ${text}`);
    assert.ok(text.includes(ROUTER_WAN_IP), `carol's binding does not record the NAT's address as received: ${text}`);
  });
});
