/**
 * sipctl commands for the provider route's tables (book ch. 7–8): trusted peers and address
 * groups (permissions), PSTN gateways and LCR rules (lcr), speed dials (speeddial) and the dial
 * plan (dialplan). Each change is stored, then the running proxy is told to reload that data
 * (admin API, found as sipctl-program.ts says) so it applies at once; with no proxy found it
 * applies at the next periodic reload.
 *
 * Errors follow the other commands: one line, exit 2 for a bad value, 3 for nothing found,
 * 1 for a failed operation (duplicate, database down).
 */
import { Option, type Command } from 'commander';
import {
  GATEWAY_NAME,
  hostMask,
  isTargetUri,
  MAX_NOANSWER_SECONDS,
  LCR_MAX_PRIORITY,
  LCR_MAX_WEIGHT,
  LCR_TRANSPORTS,
  lcrTransportName,
  normalizeIp,
  NUMBER_PREFIX,
  parseGatewayHost,
  regexProblem,
  SHORT_NUMBER,
} from '@voip/storage';
import type { LcrGatewayRow, LcrRuleRow, LcrRuleTargetRow, Storage } from '@voip/storage';
import { formatAccount, parseAccount } from './account.js';
import type { ReloadKind } from './admin-client.js';
import { CliError } from './cli-error.js';
import type { Output } from './output.js';

/** What the provider commands need from a sipctl run. */
export interface ProviderCommandSession {
  readonly out: Output;
  db(): Promise<Storage>;
  /** `done` completed with what the proxy did; `reloaded` is its row count, null without --proxy-admin. */
  reloadIfProxy(kind: ReloadKind, done: string): Promise<{ message: string; reloaded: number | null }>;
}

/** Prints a stored change and what the running proxy made of it (`reloaded` in --json output). */
export async function reportChange(s: ProviderCommandSession, kind: ReloadKind, done: string, data: Record<string, unknown>): Promise<void> {
  const r = await s.reloadIfProxy(kind, done);
  s.out.result(r.message, { ...data, reloaded: r.reloaded });
}

/** The LCR instance sipctl edits unless --lcr-id says otherwise (the lcr module's first). */
const DEFAULT_LCR_ID = 1;
const TAG = /^[^\s]{1,64}$/;

function int(v: string, name: string, min: number, max: number): number {
  const n = /^-?[0-9]{1,10}$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) throw new CliError(`${name} must be an integer ${min}..${max}`, 2);
  return n;
}

function checkPattern(p: string, name: string, maxLength = 64): string {
  const problem = regexProblem(p, maxLength);
  if (problem !== null) throw new CliError(`${name} ${problem}`, 2);
  return p;
}

function checkTag(t: string, name = '--tag'): string {
  if (!TAG.test(t)) throw new CliError(`${name} must be 1..64 characters without spaces`, 2);
  return t;
}

function checkGatewayName(n: string): string {
  if (!GATEWAY_NAME.test(n)) throw new CliError(`invalid gateway name "${n.slice(0, 80)}" (letters, digits, "_", "." or "-")`, 2);
  return n;
}

/** An lcr_rule / lcr_gw prefix: dialable characters; '' for a rule means every number. */
function checkPrefix(p: string, name: string): string {
  if (p !== '' && !NUMBER_PREFIX.test(p)) throw new CliError(`${name} must be up to 16 of 0-9 + * # (got "${p.slice(0, 80)}")`, 2);
  return p;
}

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

interface TargetSpec {
  gw: string;
  priority: number;
  weight: number;
}

/** --gw NAME[:PRIORITY[:WEIGHT]]; without PRIORITY a gateway's is its position (1, 2, …), so the order given is the hunt order. */
function parseTargetSpec(spec: string, position: number): TargetSpec {
  const parts = spec.split(':');
  if (parts.length > 3) throw new CliError(`--gw must be NAME[:PRIORITY[:WEIGHT]], got "${spec.slice(0, 80)}"`, 2);
  return {
    gw: checkGatewayName(parts[0]!),
    priority: parts[1] === undefined || parts[1] === '' ? Math.min(position, LCR_MAX_PRIORITY) : int(parts[1], '--gw PRIORITY', 0, LCR_MAX_PRIORITY),
    weight: parts[2] === undefined ? 1 : int(parts[2], '--gw WEIGHT', 1, LCR_MAX_WEIGHT),
  };
}

function gatewayHost(g: LcrGatewayRow): string {
  const host = g.ipAddr ?? g.hostname ?? '-';
  const h = host.includes(':') ? `[${host}]` : host;
  return g.port === null ? h : `${h}:${g.port}`;
}

function gatewayView(g: LcrGatewayRow) {
  return {
    id: g.id,
    lcrId: g.lcrId,
    name: g.gwName,
    ipAddr: g.ipAddr,
    hostname: g.hostname,
    port: g.port,
    transport: lcrTransportName(g.transport),
    strip: g.strip ?? 0,
    prefix: g.prefix,
    tag: g.tag,
    params: g.params,
    defunct: g.defunct !== null && g.defunct !== 0,
  };
}

function ruleView(r: LcrRuleRow, targets: LcrRuleTargetRow[], names: Map<number, string>) {
  return {
    id: r.id,
    lcrId: r.lcrId,
    prefix: r.prefix ?? '',
    from: r.fromUri,
    requestUri: r.requestUri,
    stopper: r.stopper !== 0,
    enabled: r.enabled !== 0,
    targets: targets
      .filter((t) => t.ruleId === r.id)
      .sort((a, b) => a.priority - b.priority || a.id - b.id)
      .map((t) => ({ gw: names.get(t.gwId) ?? `#${t.gwId}`, priority: t.priority, weight: t.weight })),
  };
}

const DIALPLAN_OPS = { equal: 0, regex: 1, fnmatch: 2 } as const;
const DIALPLAN_OP_NAMES = ['equal', 'regex', 'fnmatch'] as const;

/** Attributes the provider route reads from usr_preferences for call forwarding (failure_route[1]). */
export const FORWARD_ATTRIBUTES = ['callfwd', 'fwdbusy', 'fwdnoanswer'] as const;
export const FORWARD_TIMEOUT_ATTRIBUTE = 'fwdnoanswer_timeout';

/**
 * Checks a usr_preferences value the provider route interprets: forwarding targets are SIP/tel
 * URIs, the no-answer timeout whole seconds. Returns the type to store (0 string, 1 integer),
 * or null for attributes the route does not interpret (stored as given).
 */
export function checkForwardingPreference(attribute: string, value: string): 0 | 1 | null {
  if ((FORWARD_ATTRIBUTES as readonly string[]).includes(attribute)) {
    if (!isTargetUri(value, 128)) throw new CliError(`${attribute} must be a sip:, sips: or tel: URI (at most 128 characters), got "${value.slice(0, 80)}"`, 2);
    return 0;
  }
  if (attribute === FORWARD_TIMEOUT_ATTRIBUTE) {
    int(value, FORWARD_TIMEOUT_ATTRIBUTE, 1, MAX_NOANSWER_SECONDS);
    return 1;
  }
  return null;
}

export function registerProviderCommands(program: Command, s: ProviderCommandSession): void {
  // ----------------------------------------------------------------- trusted peers
  const trusted = program.command('trusted').description('trusted peers (permissions: allow_trusted() lets their requests skip digest auth)');
  trusted
    .command('add')
    .argument('<ip>')
    .addOption(new Option('--proto <proto>', 'transport the peer uses').choices(['any', 'udp', 'tcp', 'tls']).default('any'))
    .option('--pattern <regex>', 'regular expression the From URI must match (from_pattern)')
    .option('--tag <tag>', 'text the route receives with a match (peer_tag), e.g. the gateway name')
    .option('--priority <n>', 'higher is matched first', '0')
    .action(async (ipText: string, o: { proto: string; pattern?: string; tag?: string; priority: string }) => {
      const ip = normalizeIp(ipText);
      if (ip === null) throw new CliError(`invalid IP address "${ipText.slice(0, 80)}"`, 2);
      const fromPattern = o.pattern === undefined ? null : checkPattern(o.pattern, '--pattern');
      const tag = o.tag === undefined ? null : checkTag(o.tag);
      const priority = int(o.priority, '--priority', -2147483648, 2147483647);
      const db = await s.db();
      const id = await db.trusted.add({ srcIp: ip, proto: o.proto, fromPattern, ruriPattern: null, tag, priority });
      const done = `trusted peer ${ip} (${o.proto}${fromPattern === null ? '' : `, From ${fromPattern}`}) added as id ${id}`;
      await reportChange(s, 'permissions', done, { added: { id, srcIp: ip, proto: o.proto, fromPattern, tag, priority } });
    });
  trusted
    .command('rm')
    .description('remove every trusted entry of this IP')
    .argument('<ip>')
    .action(async (ipText: string) => {
      const ip = normalizeIp(ipText);
      if (ip === null) throw new CliError(`invalid IP address "${ipText.slice(0, 80)}"`, 2);
      const db = await s.db();
      const n = await db.trusted.removeBySrcIp(ip);
      if (n === 0) throw new CliError(`no trusted peer ${ip}`, 3);
      await reportChange(s, 'permissions', `trusted peer ${ip} removed (${n} entr${n === 1 ? 'y' : 'ies'})`, { removed: ip, rows: n });
    });
  trusted.command('list').action(async () => {
    const db = await s.db();
    const rows = await db.trusted.list();
    s.out.table(
      ['ID', 'SRC_IP', 'PROTO', 'FROM_PATTERN', 'TAG', 'PRIORITY'],
      rows.map((r) => [r.id, r.srcIp, r.proto, r.fromPattern, r.tag, r.priority]),
      { trusted: rows },
    );
  });

  // ----------------------------------------------------------------- address groups
  const address = program.command('address').description('address groups (permissions: address table; group 1 is trusted like a peer)');
  address
    .command('add')
    .argument('<ip[/mask]>')
    .option('--grp <n>', 'group', '1')
    .option('--port <port>', 'source port, 0 = any', '0')
    .option('--tag <tag>', 'text the route receives with a match')
    .action(async (cidr: string, o: { grp: string; port: string; tag?: string }) => {
      const slash = cidr.lastIndexOf('/');
      const ip = normalizeIp(slash < 0 ? cidr : cidr.slice(0, slash));
      if (ip === null) throw new CliError(`invalid IP address "${cidr.slice(0, 80)}"`, 2);
      const mask = slash < 0 ? hostMask(ip) : int(cidr.slice(slash + 1), 'mask', 0, hostMask(ip));
      const grp = int(o.grp, '--grp', 0, 4294967295);
      const port = int(o.port, '--port', 0, 65535);
      const tag = o.tag === undefined ? null : checkTag(o.tag);
      const db = await s.db();
      const id = await db.addresses.add({ grp, ipAddr: ip, mask, port, tag });
      const done = `address ${ip}/${mask}${port === 0 ? '' : ` port ${port}`} added to group ${grp} as id ${id}`;
      await reportChange(s, 'permissions', done, { added: { id, grp, ipAddr: ip, mask, port, tag } });
    });
  address
    .command('rm')
    .argument('<id>')
    .action(async (idText: string) => {
      const id = int(idText, 'ID', 1, 4294967295);
      const db = await s.db();
      if (!(await db.addresses.remove(id))) throw new CliError(`no address with id ${id}`, 3);
      await reportChange(s, 'permissions', `address ${id} removed`, { removed: id });
    });
  address.command('list').action(async () => {
    const db = await s.db();
    const rows = await db.addresses.list();
    s.out.table(['ID', 'GRP', 'ADDRESS', 'PORT', 'TAG'], rows.map((r) => [r.id, r.grp, `${r.ipAddr}/${r.mask}`, r.port === 0 ? 'any' : r.port, r.tag]), { addresses: rows });
  });

  // ----------------------------------------------------------------- LCR
  const lcr = program.command('lcr').description('PSTN gateways and least-cost routing rules (lcr_gw, lcr_rule, lcr_rule_target)');
  const gw = lcr.command('gw').description('gateways');
  gw.command('add')
    .argument('<name>')
    .argument('<host[:port]>', 'IP address or host name; [IPv6]:port')
    .addOption(new Option('--transport <transport>', 'transport to the gateway').choices(['udp', 'tcp', 'tls']).default('udp'))
    .option('--strip <n>', 'leading digits removed from the number', '0')
    .option('--prefix <p>', 'digits put in front of the number (after strip)')
    .option('--tag <tag>', 'text the route receives with the gateway')
    .option('--params <params>', 'URI parameters of the gateway URI, e.g. ";user=phone"')
    .option('--lcr-id <n>', 'LCR instance', String(DEFAULT_LCR_ID))
    .action(async (name: string, hostText: string, o: { transport: 'udp' | 'tcp' | 'tls'; strip: string; prefix?: string; tag?: string; params?: string; lcrId: string }) => {
      checkGatewayName(name);
      const h = parseGatewayHost(hostText);
      if (!h.ok) throw new CliError(h.reason, 2);
      const strip = int(o.strip, '--strip', 0, 255);
      const prefix = o.prefix === undefined || o.prefix === '' ? null : checkPrefix(o.prefix, '--prefix');
      const tag = o.tag === undefined ? null : checkTag(o.tag);
      if (o.params !== undefined && !/^;[^\s]{1,63}$/.test(o.params)) throw new CliError('--params must be URI parameters starting with ";" (at most 64 characters)', 2);
      const lcrId = int(o.lcrId, '--lcr-id', 1, 65535);
      const db = await s.db();
      const row = {
        lcrId,
        gwName: name,
        ipAddr: h.ipAddr,
        hostname: h.hostname,
        port: h.port,
        params: o.params ?? null,
        uriScheme: 1,
        transport: LCR_TRANSPORTS[o.transport],
        strip,
        prefix,
        tag,
        flags: 0,
        defunct: null,
      };
      const id = await db.lcr.addGateway(row);
      const view = gatewayView({ id, ...row });
      await reportChange(s, 'lcr', `gateway ${name} (${gatewayHost({ id, ...row })}, ${o.transport}) added as id ${id}`, { added: view });
    });
  gw.command('rm')
    .description('remove a gateway (and its place in every rule)')
    .argument('<name>')
    .option('--lcr-id <n>', 'LCR instance', String(DEFAULT_LCR_ID))
    .action(async (name: string, o: { lcrId: string }) => {
      checkGatewayName(name);
      const lcrId = int(o.lcrId, '--lcr-id', 1, 65535);
      const db = await s.db();
      if (!(await db.lcr.removeGateway(lcrId, name))) throw new CliError(`no gateway ${name}${lcrId === DEFAULT_LCR_ID ? '' : ` in LCR instance ${lcrId}`}`, 3);
      await reportChange(s, 'lcr', `gateway ${name} removed`, { removed: name, lcrId });
    });
  gw.command('list').action(async () => {
    const db = await s.db();
    const rows = (await db.lcr.gateways()).map((g) => ({ view: gatewayView(g), host: gatewayHost(g) }));
    s.out.table(
      ['ID', 'NAME', 'HOST', 'TRANSPORT', 'STRIP', 'PREFIX', 'TAG', 'STATE'],
      rows.map(({ view, host }) => [view.id, view.name, host, view.transport, view.strip, view.prefix, view.tag, view.defunct ? 'defunct' : 'active']),
      { gateways: rows.map((r) => r.view) },
    );
  });

  const rule = lcr.command('rule').description('prefix rules: which gateways, in which order, carry a number');
  rule
    .command('add')
    .argument('<prefix>', "number prefix, longest match wins; '' matches every number")
    .option('--gw <NAME[:PRIORITY[:WEIGHT]]>', 'a gateway of the rule (repeat for failover: lower priority first, weight among equals)', collect, [])
    .option('--from <regex>', "regular expression on the caller's URI")
    .option('--stopper', 'no shorter-prefix rule is tried after this one')
    .option('--lcr-id <n>', 'LCR instance', String(DEFAULT_LCR_ID))
    .action(async (prefixText: string, o: { gw: string[]; from?: string; stopper?: boolean; lcrId: string }) => {
      const prefix = checkPrefix(prefixText, 'PREFIX');
      if (o.gw.length === 0) throw new CliError('a rule needs at least one --gw NAME[:PRIORITY[:WEIGHT]]', 2);
      const specs = o.gw.map((g, i) => parseTargetSpec(g, i + 1));
      const seen = new Set<string>();
      for (const t of specs) {
        if (seen.has(t.gw)) throw new CliError(`gateway ${t.gw} is given twice`, 2);
        seen.add(t.gw);
      }
      const fromUri = o.from === undefined ? null : checkPattern(o.from, '--from');
      const lcrId = int(o.lcrId, '--lcr-id', 1, 65535);
      const db = await s.db();
      const gateways = await db.lcr.gateways();
      const gwIds = specs.map((t) => {
        const g = gateways.find((x) => x.lcrId === lcrId && x.gwName === t.gw);
        if (!g) throw new CliError(`no gateway ${t.gw}${lcrId === DEFAULT_LCR_ID ? '' : ` in LCR instance ${lcrId}`} (add it with lcr gw add)`, 3);
        return g.id;
      });
      const ruleId = await db.lcr.addRule({ lcrId, prefix: prefix === '' ? null : prefix, fromUri, requestUri: null, mtTvalue: null, stopper: o.stopper ? 1 : 0, enabled: 1 });
      try {
        for (const [i, t] of specs.entries()) await db.lcr.addTarget({ lcrId, ruleId, gwId: gwIds[i]!, priority: t.priority, weight: t.weight });
      } catch (err) {
        // A rule without all its gateways would route differently than asked: take it back.
        await db.lcr.removeRule(ruleId).catch(() => undefined);
        throw err;
      }
      const targets = specs.map((t) => `${t.gw} (priority ${t.priority}, weight ${t.weight})`).join(', ');
      const done = `LCR rule ${ruleId} added: ${prefix === '' ? 'every number' : prefix}${fromUri === null ? '' : ` from ${fromUri}`} -> ${targets}`;
      await reportChange(s, 'lcr', done, { added: { id: ruleId, lcrId, prefix, from: fromUri, stopper: o.stopper === true, targets: specs } });
    });
  rule
    .command('rm')
    .argument('<id>')
    .action(async (idText: string) => {
      const id = int(idText, 'ID', 1, 4294967295);
      const db = await s.db();
      if (!(await db.lcr.removeRule(id))) throw new CliError(`no LCR rule ${id}`, 3);
      await reportChange(s, 'lcr', `LCR rule ${id} removed`, { removed: id });
    });
  rule.command('list').action(async () => {
    const db = await s.db();
    const [rules, targets, gateways] = await Promise.all([db.lcr.rules(), db.lcr.targets(), db.lcr.gateways()]);
    const names = new Map(gateways.map((g) => [g.id, g.gwName ?? `#${g.id}`]));
    const views = rules.map((r) => ruleView(r, targets, names));
    s.out.table(
      ['ID', 'PREFIX', 'FROM', 'GATEWAYS (NAME:PRIORITY:WEIGHT)', 'STATE'],
      views.map((v) => [
        v.id,
        v.prefix === '' ? '(any)' : v.prefix,
        v.from,
        v.targets.map((t) => `${t.gw}:${t.priority}:${t.weight}`).join(' ') || '(none)',
        `${v.enabled ? 'enabled' : 'disabled'}${v.stopper ? ',stopper' : ''}`,
      ]),
      { rules: views },
    );
  });

  // ----------------------------------------------------------------- speed dial
  const sd = program.command('speeddial').description("two-digit short numbers per user (speed_dial: sd_lookup)");
  sd.command('add')
    .argument('<user@domain>')
    .argument('<nn>', 'two digits')
    .argument('<uri>', 'sip:, sips: or tel: URI it dials')
    .option('--description <text>', 'free text (speed_dial.description)')
    .action(async (account: string, nn: string, uri: string, o: { description?: string }) => {
      const a = parseAccount(account);
      if (!SHORT_NUMBER.test(nn)) throw new CliError(`short number must be two digits, got "${nn.slice(0, 80)}"`, 2);
      if (!isTargetUri(uri, 255)) throw new CliError(`URI must be a sip:, sips: or tel: URI (at most 255 characters), got "${uri.slice(0, 80)}"`, 2);
      if (o.description !== undefined && o.description.length > 64) throw new CliError('--description must be at most 64 characters', 2);
      const db = await s.db();
      // sd_domain: the short number is dialled as NN@DOMAIN of its owner (kamctl speeddial).
      const id = await db.speedDial.add({ username: a.username, domain: a.domain, sdUsername: nn, sdDomain: a.domain, newUri: uri, fname: '', lname: '', description: o.description ?? '' });
      await reportChange(s, 'preferences', `${formatAccount(a)}: ${nn} -> ${uri}`, { added: { id, account: formatAccount(a), short: nn, uri } });
    });
  sd.command('rm')
    .argument('<user@domain>')
    .argument('<nn>')
    .action(async (account: string, nn: string) => {
      const a = parseAccount(account);
      if (!SHORT_NUMBER.test(nn)) throw new CliError(`short number must be two digits, got "${nn.slice(0, 80)}"`, 2);
      const db = await s.db();
      if (!(await db.speedDial.remove(a.username, a.domain, nn))) throw new CliError(`${formatAccount(a)} has no speed dial ${nn}`, 3);
      await reportChange(s, 'preferences', `${formatAccount(a)}: speed dial ${nn} removed`, { removed: { account: formatAccount(a), short: nn } });
    });
  sd.command('list')
    .argument('[user@domain]')
    .action(async (account: string | undefined) => {
      const db = await s.db();
      const rows = await db.speedDial.list(account === undefined ? undefined : parseAccount(account));
      const view = rows.map((r) => ({ account: `${r.username}@${r.domain}`, short: r.sdUsername, uri: r.newUri, description: r.description }));
      s.out.table(['SUBSCRIBER', 'SHORT', 'URI', 'DESCRIPTION'], view.map((v) => [v.account, v.short, v.uri, v.description || null]), { speedDials: view });
    });

  // ----------------------------------------------------------------- dial plan
  const dp = program.command('dialplan').description('number normalisation and ACL-group rules (dialplan table: dp_translate)');
  dp.command('add')
    .argument('<match>', 'what the number must match (a regular expression with --op regex)')
    .option('--dpid <n>', 'dial plan id', '1')
    .option('--pr <n>', 'priority, lower is tried first', '0')
    .addOption(new Option('--op <op>', 'how <match> is compared').choices([...DIALPLAN_OP_NAMES]).default('regex'))
    .option('--len <n>', 'exact number length, 0 = any', '0')
    .option('--subst <regex>', 'regular expression applied to the number (subst_exp)')
    .option('--repl <text>', 'replacement, \\1… for its groups (repl_exp)')
    .option('--attrs <text>', 'returned with a match, e.g. group=ld')
    .action(async (match: string, o: { dpid: string; pr: string; op: keyof typeof DIALPLAN_OPS; len: string; subst?: string; repl?: string; attrs?: string }) => {
      if (match.length === 0 || match.length > 64) throw new CliError('<match> must be 1..64 characters', 2);
      if (o.op === 'regex') checkPattern(match, '<match>');
      const substExp = o.subst === undefined ? '' : checkPattern(o.subst, '--subst');
      const replExp = o.repl ?? '';
      if (replExp.length > 256) throw new CliError('--repl must be at most 256 characters', 2);
      const attrs = o.attrs ?? '';
      if (attrs.length > 64) throw new CliError('--attrs must be at most 64 characters', 2);
      const row = {
        dpid: int(o.dpid, '--dpid', 0, 2147483647),
        pr: int(o.pr, '--pr', 0, 2147483647),
        matchOp: DIALPLAN_OPS[o.op],
        matchExp: match,
        matchLen: int(o.len, '--len', 0, 255),
        substExp,
        replExp,
        attrs,
      };
      const db = await s.db();
      const id = await db.dialplan.add(row);
      const done = `dial plan ${row.dpid} rule ${id} added: ${match}${substExp === '' ? '' : ` s/${substExp}/${replExp}/`}${attrs === '' ? '' : ` [${attrs}]`}`;
      await reportChange(s, 'dialplan', done, { added: { id, ...row } });
    });
  dp.command('rm')
    .argument('<id>')
    .action(async (idText: string) => {
      const id = int(idText, 'ID', 1, 4294967295);
      const db = await s.db();
      if (!(await db.dialplan.remove(id))) throw new CliError(`no dial plan rule ${id}`, 3);
      await reportChange(s, 'dialplan', `dial plan rule ${id} removed`, { removed: id });
    });
  dp.command('list')
    .argument('[dpid]')
    .action(async (dpidText: string | undefined) => {
      const db = await s.db();
      const rows = await db.dialplan.list(dpidText === undefined ? undefined : int(dpidText, 'DPID', 0, 2147483647));
      s.out.table(
        ['ID', 'DPID', 'PR', 'OP', 'MATCH', 'LEN', 'SUBST', 'REPL', 'ATTRS'],
        rows.map((r) => [r.id, r.dpid, r.pr, DIALPLAN_OP_NAMES[r.matchOp] ?? String(r.matchOp), r.matchExp, r.matchLen, r.substExp || null, r.replExp || null, r.attrs || null]),
        { dialplan: rows },
      );
    });
}
