/**
 * The provider-route lab (book ch. 7–8): sip-proxy --db with the provider route, two PSTN
 * gateways and a voicemail server played by SIPp, subscribers with ACL groups and forwarding
 * preferences. The same lab is provisioned two ways — a provisioning file (in-memory storage)
 * and a MariaDB database filled with the real sipctl — so every scenario runs on both.
 *
 * Addresses: phones and the voicemail server on the lab host (127.0.0.1); the trusted gateway
 * gw-a on 127.0.0.2, the second gateway gw-b on 127.0.0.4, an untrusted peer on 127.0.0.3
 * (allow_trusted() tells peers apart by source address).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { repoRoot, runToCompletion, type Backend, type ProgramHandle } from '../harness/index.js';
import { DOMAIN, NONCE_SECRET, sipctlOk } from '../mysql/ch5-lab.js';

export { DOMAIN };
export const GW_A_HOST = '127.0.0.2';
export const UNTRUSTED_HOST = '127.0.0.3';
export const GW_B_HOST = '127.0.0.4';

/** Subscribers of the lab; the password is `<user>-pw`. */
export const USERS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace'] as const;
export const password = (user: string): string => `${user}-pw`;

/** Scenario files of this suite (integration/src/provider/scenarios). */
export function scenario(name: string): string {
  return fileURLToPath(new URL(`../../src/provider/scenarios/${name}.xml`, import.meta.url));
}

export interface ProviderPorts {
  sip: number;
  admin: number;
  gwA: number;
  gwB: number;
  voicemail: number;
}

/**
 * What the lab holds: alice may call every number class; bob none; carol forwards everything
 * to bob; frank and grace forward to each other (a loop); gw-a (trusted, priority 1) and gw-b
 * (priority 2, wants 00-international format: strip the "+", prefix "00") carry +1; gw-b +44.
 */
function provisioning(p: ProviderPorts): Record<string, unknown> {
  return {
    domains: [DOMAIN],
    subscribers: USERS.map((u) => ({ username: u, domain: DOMAIN, password: password(u) })),
    groups: [{ account: `alice@${DOMAIN}`, groups: ['local', 'ld', 'int'] }],
    preferences: [
      { account: `carol@${DOMAIN}`, attribute: 'callfwd', value: `sip:bob@${DOMAIN}` },
      { account: `frank@${DOMAIN}`, attribute: 'callfwd', value: `sip:grace@${DOMAIN}` },
      { account: `grace@${DOMAIN}`, attribute: 'callfwd', value: `sip:frank@${DOMAIN}` },
    ],
    trusted: [{ src_ip: GW_A_HOST, proto: 'udp', tag: 'gw-a' }],
    gateways: [
      { name: 'gw-a', host: `${GW_A_HOST}:${p.gwA}`, tag: 'gw-a' },
      { name: 'gw-b', host: `${GW_B_HOST}:${p.gwB}`, strip: 1, prefix: '00' },
    ],
    lcr_rules: [
      { prefix: '+1', targets: [{ gw: 'gw-a', priority: 1 }, { gw: 'gw-b', priority: 2 }] },
      { prefix: '+44', targets: [{ gw: 'gw-b', priority: 1 }] },
    ],
  };
}

/** The provisioning file (`--db file:…`). */
export function writeProvisioningFile(lab: Backend, p: ProviderPorts): string {
  const file = lab.workDir.file('provisioning.yaml');
  writeFileSync(file, stringify(provisioning(p)));
  return `file:${file}`;
}

/** The same data in MariaDB, entered with the real sipctl as an operator would. */
export async function provisionWithSipctl(dbUrl: string, p: ProviderPorts): Promise<void> {
  const ctl = (args: string[]): Promise<string> => sipctlOk(['--db', dbUrl, ...args]);
  await ctl(['db', 'init']);
  await ctl(['domain', 'add', DOMAIN]);
  for (const u of USERS) await ctl(['add', `${u}@${DOMAIN}`, password(u)]);
  for (const g of ['local', 'ld', 'int']) await ctl(['acl', 'grant', `alice@${DOMAIN}`, g]);
  await ctl(['avp', 'add', `carol@${DOMAIN}`, 'callfwd', `sip:bob@${DOMAIN}`]);
  await ctl(['avp', 'add', `frank@${DOMAIN}`, 'callfwd', `sip:grace@${DOMAIN}`]);
  await ctl(['avp', 'add', `grace@${DOMAIN}`, 'callfwd', `sip:frank@${DOMAIN}`]);
  await ctl(['trusted', 'add', GW_A_HOST, '--proto', 'udp', '--tag', 'gw-a']);
  await ctl(['lcr', 'gw', 'add', 'gw-a', `${GW_A_HOST}:${p.gwA}`, '--tag', 'gw-a']);
  await ctl(['lcr', 'gw', 'add', 'gw-b', `${GW_B_HOST}:${p.gwB}`, '--strip', '1', '--prefix', '00']);
  await ctl(['lcr', 'rule', 'add', '+1', '--gw', 'gw-a:1', '--gw', 'gw-b:2']);
  await ctl(['lcr', 'rule', 'add', '+44', '--gw', 'gw-b:1']);
}

export interface ProviderProxy {
  readonly handle: ProgramHandle;
  readonly sipAddress: string;
  readonly adminUrl: string;
  /** Its state directory (stateDir), where it writes admin-url for sipctl. */
  readonly stateDir: string;
}

const SIPCTL = join(repoRoot, 'services', 'proxy', 'dist', 'cli', 'sipctl.js');

/**
 * sipctl as an operator runs it next to the proxy: no --proxy-admin and no SIP_PROXY_ADMIN, only
 * the proxy's state directory (SIP_PROXY_STATE_DIR, the variable sip-proxy reads too), where
 * sipctl finds the admin URL the proxy wrote. Must succeed; returns stdout.
 */
export async function sipctlBesideProxy(stateDir: string, args: string[]): Promise<string> {
  const env: NodeJS.ProcessEnv = { ...process.env, SIP_PROXY_STATE_DIR: stateDir };
  delete env.SIP_PROXY_ADMIN;
  const r = await runToCompletion(process.execPath, [SIPCTL, ...args], 30_000, env);
  if (r.code !== 0) throw new Error(`sipctl ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

/**
 * `sip-proxy --route provider --db URL`: MD5 only (SIPp 3.6 reads the first challenge and knows
 * only MD5), short gateway and no-answer timeouts so a silent peer is given up quickly, the
 * voicemail server on the lab host.
 */
export async function startProviderProxy(
  lab: Backend,
  o: {
    dbUrl: string;
    ports: ProviderPorts;
    name?: string;
    workers?: number;
    /** Further top-level config sections (e.g. rtpengine for the big-picture suite). */
    config?: Record<string, unknown>;
    /** Further command-line options (e.g. --acc-journal). */
    args?: readonly string[];
  },
): Promise<ProviderProxy> {
  const cfg = lab.workDir.file(`${o.name ?? 'provider-proxy'}.yaml`);
  // One state directory for the lab's proxy, kept across its restarts.
  const stateDir = lab.workDir.sub('proxy-state');
  writeFileSync(
    cfg,
    stringify({
      auth: { algorithms: ['MD5'], nonceSecret: NONCE_SECRET },
      usrloc: { dbMode: 'write-through' },
      timers: { t1: 200 },
      lcr: { frInvTimeout: 2_000 },
      callForward: { noAnswerTimeout: 2_000 },
      voicemail: { uri: `sip:${lab.host}:${o.ports.voicemail}` },
      // Not under test here: right after a start the event-loop delay can trip the guard's 503.
      overload: { enabled: false },
      stateDir,
      ...o.config,
    }),
  );
  const handle = await lab.startProgram(
    'sip-proxy',
    ['--listen', `udp:${lab.host}:${o.ports.sip}`, '--admin', `${lab.host}:${o.ports.admin}`, '--db', o.dbUrl, '--route', 'provider', '--config', cfg, '--log-level', 'warn', ...(o.workers === undefined ? [] : ['--workers', String(o.workers)]), ...(o.args ?? [])],
    { readyPattern: /listening on/, readyTimeoutMs: 20_000 },
  );
  return { handle, sipAddress: `${lab.host}:${o.ports.sip}`, adminUrl: `http://${lab.host}:${o.ports.admin}`, stateDir };
}

/**
 * `sip-proxy --db URL` exactly as a new user starts it: listen, admin and the database, no
 * config file, so no auth settings (the default algorithms, a generated nonce secret in
 * .sip-proxy/ of the working directory) and the default route (provider, with --db).
 */
export async function startDefaultProxy(lab: Backend, o: { dbUrl: string; ports: ProviderPorts }): Promise<ProviderProxy> {
  const handle = await lab.startProgram(
    'sip-proxy',
    ['--listen', `udp:${lab.host}:${o.ports.sip}`, '--admin', `${lab.host}:${o.ports.admin}`, '--db', o.dbUrl, '--log-level', 'warn'],
    { readyPattern: /listening on/, readyTimeoutMs: 20_000 },
  );
  return { handle, sipAddress: `${lab.host}:${o.ports.sip}`, adminUrl: `http://${lab.host}:${o.ports.admin}`, stateDir: join(lab.workDir.path, '.sip-proxy') };
}
