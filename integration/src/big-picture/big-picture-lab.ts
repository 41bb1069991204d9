/**
 * The big-picture lab: what the book's provider runs, assembled from the suites' own pieces —
 * sipctl provisioning of a MariaDB database, the provider-route proxy (provider-lab.ts) with
 * rtp-relay (rtpproxy/support.ts) as its media relay and the built-in voicemail-bridge
 * (voicemail/support.ts) as its voicemail server, the accounting journal read by radius-acct and
 * sent to FreeRADIUS (radius/). Only the wiring and the book's data live here. Every program
 * starts through the Backend (its image in the containers backend); sipctl, the operator's
 * tool, runs locally against the same MariaDB in both backends.
 *
 * Addresses (allow_trusted() tells peers apart by source address): phones, proxy, relay and
 * the voicemail server's SIP port on 127.0.0.1; gw1 — also the trusted gateway — on 127.0.0.2,
 * gw2 on 127.0.0.4 (provider-lab.ts' GW_A_HOST / GW_B_HOST).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Backend } from '../harness/index.js';
import { sipctlOk } from '../mysql/ch5-lab.js';
import type { RtpExec } from '../nat/nat-scenarios.js';
import { DOMAIN, GW_A_HOST, GW_B_HOST, password, type ProviderPorts } from '../provider/provider-lab.js';
import { waitFor } from '../rtpproxy/support.js';

/** Subscribers of the walk; the password is `<user>-pw` (provider-lab.ts). */
export const SUBSCRIBERS = ['alice', 'bob', 'erin'] as const;
/** bob's own no-answer timeout in seconds (avp fwdnoanswer_timeout), short for the test. */
export const BOB_NO_ANSWER_S = 2;

/** Scenario files beside the suite (integration/src/big-picture/scenarios). */
export function scenario(name: string): string {
  return fileURLToPath(new URL(`../../src/big-picture/scenarios/${name}.xml`, import.meta.url));
}

/**
 * The book's provisioning, as an operator types it (ch. 5 subscribers, ch. 7 ACL groups and
 * LCR, ch. 8 trusted peers and preferences): alice may call every number class, bob and erin
 * only local numbers; +1 numbers go to gw1 first, then gw2, which wants them without "+"
 * and with "00" in front; gw1's address is trusted (no digest for calls it brings in).
 */
export async function provisionTheBook(dbUrl: string, ports: ProviderPorts): Promise<string[]> {
  const commands: string[][] = [
    ['db', 'init'],
    ['domain', 'add', DOMAIN],
    ...SUBSCRIBERS.map((u) => ['add', `${u}@${DOMAIN}`, password(u)]),
    ...['local', 'ld', 'int'].map((g) => ['acl', 'grant', `alice@${DOMAIN}`, g]),
    ['acl', 'grant', `bob@${DOMAIN}`, 'local'],
    ['acl', 'grant', `erin@${DOMAIN}`, 'local'],
    ['avp', 'add', `bob@${DOMAIN}`, 'fwdnoanswer_timeout', String(BOB_NO_ANSWER_S)],
    ['lcr', 'gw', 'add', 'gw1', `${GW_A_HOST}:${ports.gwA}`, '--tag', 'gw1'],
    ['lcr', 'gw', 'add', 'gw2', `${GW_B_HOST}:${ports.gwB}`, '--strip', '1', '--prefix', '00'],
    ['lcr', 'rule', 'add', '+1', '--gw', 'gw1:1', '--gw', 'gw2:2'],
    ['trusted', 'add', GW_A_HOST, '--proto', 'udp', '--tag', 'gw1'],
  ];
  for (const c of commands) await sipctlOk(['--db', dbUrl, ...c]);
  return commands.map((c) => `sipctl ${c.join(' ')}`);
}

/** What rtp-party-cli wrote: packets sent, where to (from the SDP received), received, from where. */
export interface RtpResult {
  sent: number;
  to: string;
  received: number;
  sources: string[];
}

const RTP_PARTY = fileURLToPath(new URL('../nat/rtp-party-cli.js', import.meta.url));

/**
 * The RTP party a SIPp phone starts once its call is up (nat-scenarios.ts' `exec`): with our
 * Node natively, with the SIPp image's `node` (Debian's nodejs; docker/sipp/Dockerfile) in the
 * containers backend, which sees the compiled suite and the work directory at their host paths.
 */
export function rtpParty(lab: Backend, who: string, port: number, count: number): RtpExec {
  const node = lab.name === 'containers' ? 'node' : process.execPath;
  return { node, cli: RTP_PARTY, bind: lab.host, port, count, out: lab.workDir.file(`rtp-${who}.json`) };
}

export async function rtpResult(r: RtpExec): Promise<RtpResult> {
  await waitFor(`RTP result ${r.out}`, 20_000, () => (existsSync(r.out) ? true : null));
  return JSON.parse(readFileSync(r.out, 'utf8').trim()) as RtpResult;
}

/** Writes a generated scenario (nat-scenarios.ts) into the work directory; returns its path. */
export function writeScenario(lab: Backend, name: string, xml: string): string {
  const file = lab.workDir.file(`${name}.xml`);
  writeFileSync(file, xml);
  return file;
}

/** A mailbox as the voicemail-bridge HTTP API lists it. */
export async function mailbox(bridgeUrl: string, user: string): Promise<{ id: string; caller: string; duration_s: number; folder: string }[]> {
  const r = await fetch(`${bridgeUrl}/mailboxes/${user}@${DOMAIN}/messages`);
  if (r.status !== 200) throw new Error(`GET mailbox of ${user}: ${r.status}`);
  return (await r.json()) as { id: string; caller: string; duration_s: number; folder: string }[];
}
