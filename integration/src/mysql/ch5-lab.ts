/**
 * The chapter-5 lab pieces the suite shares: sipctl runs, the proxy started with --db, phones
 * registering with digest through SIPp (credentials per run with -au/-ap, the phone's
 * user/domain/contact from an injection file).
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { repoRoot, runToCompletion, type Backend, type ProgramHandle, type SippResult } from '../harness/index.js';

export const DOMAIN = 'example.com';
/** The nonce key every proxy instance of a test shares (a restarted proxy verifies old nonces). */
export const NONCE_SECRET = 'integration-nonce-secret-0123456789';
const SIPCTL = join(repoRoot, 'services', 'proxy', 'dist', 'cli', 'sipctl.js');

/** Scenario files of this suite (integration/src/mysql/scenarios). */
export function scenario(name: string): string {
  return fileURLToPath(new URL(`../../src/mysql/scenarios/${name}.xml`, import.meta.url));
}

export interface Sipctl {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * sipctl reloads the proxy a test names (--proxy-admin), never one it would find in
 * ./.sip-proxy/admin-url of whoever runs the tests (a proxy of another suite started there):
 * its state directory is one that does not exist.
 */
const NO_PROXY_STATE_DIR = join(tmpdir(), `voip-it-no-proxy-state-${process.pid}`);

export async function sipctl(args: string[]): Promise<Sipctl> {
  const r = await runToCompletion(process.execPath, [SIPCTL, ...args], 30_000, { ...process.env, SIP_PROXY_STATE_DIR: NO_PROXY_STATE_DIR });
  return { code: r.code, stdout: r.stdout, stderr: r.stderr };
}

/** sipctl that must succeed. */
export async function sipctlOk(args: string[]): Promise<string> {
  const r = await sipctl(args);
  if (r.code !== 0) throw new Error(`sipctl ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

export interface Ch5Proxy {
  readonly handle: ProgramHandle;
  readonly sipAddress: string;
  readonly adminUrl: string;
}

export interface Ch5ProxyOptions {
  dbUrl: string;
  sipPort: number;
  adminPort: number;
  usrlocDbMode?: 'memory' | 'write-through' | 'write-back' | 'db-only';
  name?: string;
}

/**
 * `sip-proxy --listen … --db URL` with a config file: MD5 offered before SHA-256 (SIPp 3.6 answers
 * only the first challenge and knows only MD5), the shared nonce secret, the location mode.
 */
export async function startCh5Proxy(lab: Backend, o: Ch5ProxyOptions): Promise<Ch5Proxy> {
  const cfg = lab.workDir.file(`${o.name ?? 'proxy'}.yaml`);
  writeFileSync(
    cfg,
    stringify({
      auth: { algorithms: ['MD5', 'SHA-256'], nonceSecret: NONCE_SECRET },
      // These scenarios are chapter 5's (--db alone now selects the provider route).
      route: 'ch5',
      usrloc: { dbMode: o.usrlocDbMode ?? 'write-through' },
      timers: { t1: 200 },
    }),
  );
  const handle = await lab.startProgram(
    'sip-proxy',
    ['--listen', `udp:${lab.host}:${o.sipPort}`, '--admin', `${lab.host}:${o.adminPort}`, '--db', o.dbUrl, '--config', cfg, '--log-level', 'warn'],
    { readyPattern: /listening on/, readyTimeoutMs: 20_000 },
  );
  return { handle, sipAddress: `${lab.host}:${o.sipPort}`, adminUrl: `http://${lab.host}:${o.adminPort}` };
}

export interface PhoneRegistration {
  user: string;
  password: string;
  /** UDP port of the phone's contact (where calls for it go). */
  contactPort: number;
  expires?: number;
  /** Credentials of another account (check_to). */
  authUser?: string;
}

/** One REGISTER with the digest round (register-digest.xml); returns SIPp's result, not asserted. */
export async function registerPhone(lab: Backend, proxy: Ch5Proxy, p: PhoneRegistration): Promise<SippResult> {
  const inf = lab.workDir.file(`phone-${p.user}-${p.contactPort}.csv`);
  writeFileSync(inf, `SEQUENTIAL\n${p.user};${DOMAIN};${p.contactPort}\n`);
  return lab.runSipp({
    name: `register-${p.user}`,
    scenario: scenario('register-digest'),
    remote: proxy.sipAddress,
    keys: { expires: p.expires ?? 600 },
    timeoutMs: 10_000,
    extraArgs: ['-inf', inf, '-au', p.authUser ?? p.user, '-ap', p.password],
  });
}
