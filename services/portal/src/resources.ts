/**
 * The provisioning tables an administrator edits as lists (everything but subscribers, which have
 * their own pages): one declaration per table gives the page, the add form, the JSON API
 * (GET/POST/DELETE /api/<name>) and which proxy reload makes a change take effect at once.
 * Rows are read and written only through @voip/storage's repositories.
 */
import { isIP } from 'node:net';
import { isTargetUri, MAX_NOANSWER_SECONDS, type Storage } from '@voip/storage';
import type { ReloadKind } from './clients/proxy-admin-client.js';
import { PortalError } from './errors.js';
import { checkChoice, checkDomain, checkInt, checkPattern, checkText, checkUser } from './validation.js';

export interface FieldSpec {
  name: string;
  label: string;
  kind: 'text' | 'int' | 'select';
  options?: readonly string[];
  required?: boolean;
  placeholder?: string;
}

export interface ResourceDef {
  name: string;
  title: string;
  /** One line shown above the list: what the table does in the proxy. */
  about: string;
  reload: ReloadKind | null;
  fields: readonly FieldSpec[];
  columns: readonly string[];
  /** Fields that identify a row for removal (sent back by the row's delete form). */
  keyFields: readonly string[];
  list(db: Storage): Promise<Record<string, string | number | null>[]>;
  add(db: Storage, v: Record<string, unknown>): Promise<void>;
  /** False when nothing matched. */
  remove(db: Storage, key: Record<string, unknown>): Promise<boolean>;
}

const TRANSPORTS = ['udp', 'tcp', 'tls'] as const;
const TRANSPORT_CODE: Record<(typeof TRANSPORTS)[number], number> = { udp: 1, tcp: 2, tls: 3 };
const TRANSPORT_NAME: Record<number, string> = { 1: 'udp', 2: 'tcp', 3: 'tls', 4: 'sctp' };
/** ACL groups of the provider route (book ch. 7: local, long distance, international) and ours. */
export const ACL_GROUPS = ['local', 'ld', 'int'] as const;
/** usr_preferences the provider route reads (services/proxy/src/modules/avpops). */
export const FORWARD_ATTRIBUTES = ['callfwd', 'fwdbusy', 'fwdnoanswer', 'fwdnoanswer_timeout'] as const;

function ip(v: unknown, what: string): string {
  const s = checkText(v, what, 50, { required: true })!;
  if (isIP(s) === 0) throw new PortalError('PORTAL_ERR_BAD_INPUT', `${what} must be an IPv4 or IPv6 address`);
  return s;
}

function digits(v: unknown, what: string): string | null {
  const s = checkText(v, what, 16);
  if (s !== null && !/^\+?[0-9*#]{1,16}$/.test(s)) throw new PortalError('PORTAL_ERR_BAD_INPUT', `${what} must be digits (a leading + allowed)`);
  return s;
}

/** A forwarding target: a SIP URI (the route refuses anything else) or seconds for the timeout. */
export function checkPreferenceValue(attribute: string, v: unknown): { type: number; value: string } {
  // The same rules as sipctl avp add and the provider route (@voip/storage): sip:, sips: or tel:
  // targets (a tel: number goes through the dial plan and LCR), timeouts the route honours.
  if (attribute === 'fwdnoanswer_timeout') return { type: 1, value: String(checkInt(v, 'timeout (seconds)', 1, MAX_NOANSWER_SECONDS, { required: true })) };
  const s = checkText(v, 'value', 128, { required: true })!;
  if (FORWARD_ATTRIBUTES.includes(attribute as never) && !isTargetUri(s, 128)) {
    throw new PortalError('PORTAL_ERR_BAD_INPUT', `${attribute} must be a sip:, sips: or tel: URI such as sip:bob@example.com or tel:+15551234567`);
  }
  return { type: 0, value: s };
}

export const RESOURCES: readonly ResourceDef[] = [
  {
    name: 'domains',
    title: 'Domains',
    about: 'SIP domains this installation serves (domain table): requests for them are ours (uri==myself).',
    reload: 'domain',
    fields: [
      { name: 'domain', label: 'Domain', kind: 'text', required: true, placeholder: 'example.com' },
      { name: 'did', label: 'Domain id (optional)', kind: 'text' },
    ],
    columns: ['domain', 'did'],
    keyFields: ['domain'],
    list: async (db) => (await db.domains.list()).map((d) => ({ domain: d.domain, did: d.did })),
    add: (db, v) => db.domains.add(checkDomain(v.domain), checkText(v.did, 'did', 64)),
    remove: (db, k) => db.domains.remove(checkDomain(k.domain)),
  },
  {
    name: 'aliases',
    title: 'Aliases',
    about: 'dbaliases: calls to alias@domain reach the account (alias_db lookup).',
    reload: null,
    fields: [
      { name: 'aliasUsername', label: 'Alias user', kind: 'text', required: true },
      { name: 'aliasDomain', label: 'Alias domain', kind: 'text', required: true },
      { name: 'username', label: 'Account user', kind: 'text', required: true },
      { name: 'domain', label: 'Account domain', kind: 'text', required: true },
    ],
    columns: ['aliasUsername', 'aliasDomain', 'username', 'domain'],
    keyFields: ['aliasUsername', 'aliasDomain'],
    list: async (db) => (await db.aliases.list()).map((a) => ({ ...a })),
    add: (db, v) =>
      db.aliases.add({ aliasUsername: checkUser(v.aliasUsername, 'alias user'), aliasDomain: checkDomain(v.aliasDomain, 'alias domain'), username: checkUser(v.username), domain: checkDomain(v.domain) }),
    remove: async (db, k) => (await db.aliases.remove(checkUser(k.aliasUsername, 'alias user'), checkDomain(k.aliasDomain, 'alias domain'))) > 0,
  },
  {
    name: 'groups',
    title: 'ACL groups',
    about: 'grp: which accounts may call local, long-distance (ld) and international (int) numbers (is_user_in).',
    reload: 'preferences',
    fields: [
      { name: 'username', label: 'User', kind: 'text', required: true },
      { name: 'domain', label: 'Domain', kind: 'text', required: true },
      { name: 'grp', label: 'Group', kind: 'select', options: ACL_GROUPS, required: true },
    ],
    columns: ['username', 'domain', 'grp'],
    keyFields: ['username', 'domain', 'grp'],
    list: async (db) => (await db.groups.list()).map((g) => ({ username: g.username, domain: g.domain, grp: g.grp })),
    add: (db, v) => db.groups.grant(checkUser(v.username), checkDomain(v.domain), checkChoice(v.grp, 'group', ACL_GROUPS)),
    remove: async (db, k) => (await db.groups.revoke(checkUser(k.username), checkDomain(k.domain), checkText(k.grp, 'group', 64, { required: true })!)) > 0,
  },
  {
    name: 'preferences',
    title: 'User preferences',
    about: 'usr_preferences: call forwarding — callfwd (always), fwdbusy, fwdnoanswer (SIP URIs) and fwdnoanswer_timeout (seconds).',
    reload: 'preferences',
    fields: [
      { name: 'username', label: 'User', kind: 'text', required: true },
      { name: 'domain', label: 'Domain', kind: 'text', required: true },
      { name: 'attribute', label: 'Attribute', kind: 'select', options: FORWARD_ATTRIBUTES, required: true },
      { name: 'value', label: 'Value', kind: 'text', required: true, placeholder: 'sip:bob@example.com' },
    ],
    columns: ['username', 'domain', 'attribute', 'value'],
    keyFields: ['username', 'domain', 'attribute'],
    list: async (db) => (await db.preferences.list()).map((p) => ({ username: p.username, domain: p.domain, attribute: p.attribute, value: p.value })),
    add: async (db, v) => {
      const username = checkUser(v.username);
      const domain = checkDomain(v.domain);
      const attribute = checkChoice(v.attribute, 'attribute', FORWARD_ATTRIBUTES);
      const { type, value } = checkPreferenceValue(attribute, v.value);
      // The route reads one value per forwarding attribute: a new one replaces the old (as sipctl avp add).
      await db.preferences.remove(username, domain, attribute);
      await db.preferences.add({ uuid: '', username, domain, attribute, type, value });
    },
    remove: async (db, k) => (await db.preferences.remove(checkUser(k.username), checkDomain(k.domain), checkText(k.attribute, 'attribute', 32, { required: true })!)) > 0,
  },
  {
    name: 'trusted',
    title: 'Trusted hosts',
    about: 'trusted: peers (gateways) whose requests skip digest authentication (allow_trusted).',
    reload: 'permissions',
    fields: [
      { name: 'srcIp', label: 'Source IP', kind: 'text', required: true },
      { name: 'proto', label: 'Transport', kind: 'select', options: ['any', 'udp', 'tcp', 'tls'], required: true },
      { name: 'fromPattern', label: 'From pattern (regex, optional)', kind: 'text' },
      { name: 'tag', label: 'Tag', kind: 'text' },
      { name: 'priority', label: 'Priority', kind: 'int' },
    ],
    columns: ['id', 'srcIp', 'proto', 'fromPattern', 'tag', 'priority'],
    keyFields: ['srcIp'],
    list: async (db) => (await db.trusted.list()).map((t) => ({ id: t.id, srcIp: t.srcIp, proto: t.proto, fromPattern: t.fromPattern, tag: t.tag, priority: t.priority })),
    add: async (db, v) => {
      await db.trusted.add({
        srcIp: ip(v.srcIp, 'source IP'),
        proto: checkChoice(v.proto ?? 'any', 'transport', ['any', 'udp', 'tcp', 'tls']),
        fromPattern: checkPattern(v.fromPattern, 'From pattern'),
        ruriPattern: null,
        tag: checkText(v.tag, 'tag', 64),
        priority: checkInt(v.priority, 'priority', -1000, 1000, { fallback: 0 })!,
      });
    },
    remove: async (db, k) => (await db.trusted.removeBySrcIp(ip(k.srcIp, 'source IP'))) > 0,
  },
  {
    name: 'addresses',
    title: 'Address groups',
    about: 'address: network ranges by group (allow_source_address); group 1 is also trusted.',
    reload: 'permissions',
    fields: [
      { name: 'grp', label: 'Group', kind: 'int', required: true },
      { name: 'ipAddr', label: 'IP address', kind: 'text', required: true },
      { name: 'mask', label: 'Prefix length', kind: 'int' },
      { name: 'port', label: 'Port (0 = any)', kind: 'int' },
      { name: 'tag', label: 'Tag', kind: 'text' },
    ],
    columns: ['id', 'grp', 'ipAddr', 'mask', 'port', 'tag'],
    keyFields: ['id'],
    list: async (db) => (await db.addresses.list()).map((a) => ({ ...a })),
    add: async (db, v) => {
      const addr = ip(v.ipAddr, 'IP address');
      const max = isIP(addr) === 6 ? 128 : 32;
      await db.addresses.add({
        grp: checkInt(v.grp, 'group', 0, 65535, { required: true })!,
        ipAddr: addr,
        mask: checkInt(v.mask, 'prefix length', 0, max, { fallback: max })!,
        port: checkInt(v.port, 'port', 0, 65535, { fallback: 0 })!,
        tag: checkText(v.tag, 'tag', 64),
      });
    },
    remove: (db, k) => db.addresses.remove(checkInt(k.id, 'id', 1, 2 ** 31, { required: true })!),
  },
  {
    name: 'gateways',
    title: 'LCR gateways',
    about: 'lcr_gw: PSTN gateways; strip and prefix rewrite the number (e.g. to E.164) before the call leaves.',
    reload: 'lcr',
    fields: [
      { name: 'gwName', label: 'Name', kind: 'text', required: true },
      { name: 'ipAddr', label: 'IP address', kind: 'text', required: true },
      { name: 'port', label: 'Port', kind: 'int' },
      { name: 'transport', label: 'Transport', kind: 'select', options: TRANSPORTS, required: true },
      { name: 'strip', label: 'Strip digits', kind: 'int' },
      { name: 'prefix', label: 'Prefix', kind: 'text' },
      { name: 'tag', label: 'Tag', kind: 'text' },
      { name: 'lcrId', label: 'LCR instance', kind: 'int' },
    ],
    columns: ['id', 'lcrId', 'gwName', 'ipAddr', 'port', 'transport', 'strip', 'prefix', 'tag', 'state'],
    keyFields: ['lcrId', 'gwName'],
    list: async (db) =>
      (await db.lcr.gateways()).map((g) => ({
        id: g.id, lcrId: g.lcrId, gwName: g.gwName, ipAddr: g.ipAddr ?? g.hostname, port: g.port, transport: TRANSPORT_NAME[g.transport ?? 1] ?? String(g.transport),
        strip: g.strip, prefix: g.prefix, tag: g.tag, state: g.defunct ? 'defunct' : 'active',
      })),
    add: async (db, v) => {
      const name = checkText(v.gwName, 'name', 128, { required: true })!;
      if (!/^[A-Za-z0-9_.-]{1,128}$/.test(name)) throw new PortalError('PORTAL_ERR_BAD_INPUT', 'gateway name: letters, digits, _ . - only');
      await db.lcr.addGateway({
        lcrId: checkInt(v.lcrId, 'LCR instance', 1, 65535, { fallback: 1 })!,
        gwName: name,
        ipAddr: ip(v.ipAddr, 'IP address'),
        hostname: null,
        port: checkInt(v.port, 'port', 1, 65535),
        params: null,
        uriScheme: 1,
        transport: TRANSPORT_CODE[checkChoice(v.transport ?? 'udp', 'transport', TRANSPORTS)],
        strip: checkInt(v.strip, 'strip', 0, 255, { fallback: 0 }),
        prefix: digits(v.prefix, 'prefix'),
        tag: checkText(v.tag, 'tag', 64),
        flags: 0,
        defunct: null,
      });
    },
    remove: (db, k) => db.lcr.removeGateway(checkInt(k.lcrId, 'LCR instance', 1, 65535, { fallback: 1 })!, checkText(k.gwName, 'name', 128, { required: true })!),
  },
  {
    name: 'rules',
    title: 'LCR rules',
    about: 'lcr_rule + lcr_rule_target: the longest matching prefix picks its gateways (lower priority first).',
    reload: 'lcr',
    fields: [
      { name: 'prefix', label: 'Number prefix', kind: 'text', placeholder: '0' },
      { name: 'gwName', label: 'Gateway', kind: 'text', required: true },
      { name: 'priority', label: 'Priority', kind: 'int' },
      { name: 'weight', label: 'Weight', kind: 'int' },
      { name: 'fromUri', label: 'From pattern (regex, optional)', kind: 'text' },
      { name: 'lcrId', label: 'LCR instance', kind: 'int' },
    ],
    columns: ['id', 'lcrId', 'prefix', 'fromUri', 'targets', 'enabled'],
    keyFields: ['id'],
    list: async (db) => {
      const [rules, targets, gws] = await Promise.all([db.lcr.rules(), db.lcr.targets(), db.lcr.gateways()]);
      const gwName = new Map(gws.map((g) => [g.id, g.gwName ?? String(g.id)]));
      return rules.map((r) => ({
        id: r.id, lcrId: r.lcrId, prefix: r.prefix, fromUri: r.fromUri,
        targets: targets.filter((t) => t.ruleId === r.id).map((t) => `${gwName.get(t.gwId) ?? t.gwId} (priority ${t.priority}, weight ${t.weight})`).join(', '),
        enabled: r.enabled,
      }));
    },
    add: async (db, v) => {
      const lcrId = checkInt(v.lcrId, 'LCR instance', 1, 65535, { fallback: 1 })!;
      const gwName = checkText(v.gwName, 'gateway', 128, { required: true })!;
      const gw = (await db.lcr.gateways()).find((g) => g.lcrId === lcrId && g.gwName === gwName);
      if (gw === undefined) throw new PortalError('PORTAL_ERR_NOT_FOUND', `no gateway ${gwName} (add it first)`);
      const prefix = digits(v.prefix, 'prefix');
      const ruleId = await db.lcr.addRule({ lcrId, prefix, fromUri: checkPattern(v.fromUri, 'From pattern'), requestUri: null, mtTvalue: null, stopper: 0, enabled: 1 });
      try {
        await db.lcr.addTarget({ lcrId, ruleId, gwId: gw.id, priority: checkInt(v.priority, 'priority', 0, 255, { fallback: 1 })!, weight: checkInt(v.weight, 'weight', 1, 254, { fallback: 1 })! });
      } catch (err) {
        // A rule without its gateway would route nowhere: take it back (as sipctl lcr rule add).
        await db.lcr.removeRule(ruleId).catch(() => undefined);
        throw err;
      }
    },
    remove: (db, k) => db.lcr.removeRule(checkInt(k.id, 'id', 1, 2 ** 31, { required: true })!),
  },
  {
    name: 'speeddials',
    title: 'Speed dials',
    about: 'speed_dial: a short number of an account that reaches a full URI (sd_lookup).',
    reload: 'preferences',
    fields: [
      { name: 'username', label: 'User', kind: 'text', required: true },
      { name: 'domain', label: 'Domain', kind: 'text', required: true },
      { name: 'sdUsername', label: 'Short number', kind: 'text', required: true },
      { name: 'newUri', label: 'Target URI', kind: 'text', required: true, placeholder: 'sip:+15551234567@example.com' },
      { name: 'description', label: 'Description', kind: 'text' },
    ],
    columns: ['username', 'domain', 'sdUsername', 'newUri', 'description'],
    keyFields: ['username', 'domain', 'sdUsername'],
    list: async (db) => (await db.speedDial.list()).map((s) => ({ username: s.username, domain: s.domain, sdUsername: s.sdUsername, newUri: s.newUri, description: s.description })),
    add: async (db, v) => {
      const domain = checkDomain(v.domain);
      const newUri = checkText(v.newUri, 'target URI', 255, { required: true })!;
      if (!isTargetUri(newUri, 255)) throw new PortalError('PORTAL_ERR_BAD_INPUT', 'target URI must be a sip:, sips: or tel: URI');
      const sd = checkText(v.sdUsername, 'short number', 64, { required: true })!;
      if (!/^[0-9*#]{1,8}$/.test(sd)) throw new PortalError('PORTAL_ERR_BAD_INPUT', 'short number must be 1-8 digits');
      await db.speedDial.add({ username: checkUser(v.username), domain, sdUsername: sd, sdDomain: domain, newUri, fname: '', lname: '', description: checkText(v.description, 'description', 64) ?? '' });
    },
    remove: (db, k) => db.speedDial.remove(checkUser(k.username), checkDomain(k.domain), checkText(k.sdUsername, 'short number', 64, { required: true })!),
  },
  {
    name: 'dialplan',
    title: 'Dial plan',
    about: 'dialplan: number translations (e.g. national to E.164) applied before LCR; attrs carry the ACL group.',
    reload: 'dialplan',
    fields: [
      { name: 'dpid', label: 'Dial plan id', kind: 'int' },
      { name: 'pr', label: 'Priority', kind: 'int' },
      { name: 'matchExp', label: 'Match (regex)', kind: 'text', required: true },
      { name: 'substExp', label: 'Substitute (regex)', kind: 'text' },
      { name: 'replExp', label: 'Replacement', kind: 'text' },
      { name: 'attrs', label: 'Attributes', kind: 'text', placeholder: 'group=ld' },
    ],
    columns: ['id', 'dpid', 'pr', 'matchExp', 'substExp', 'replExp', 'attrs'],
    keyFields: ['id'],
    list: async (db) => (await db.dialplan.list()).map((d) => ({ id: d.id, dpid: d.dpid, pr: d.pr, matchExp: d.matchExp, substExp: d.substExp, replExp: d.replExp, attrs: d.attrs })),
    add: async (db, v) => {
      await db.dialplan.add({
        dpid: checkInt(v.dpid, 'dial plan id', 0, 65535, { fallback: 1 })!,
        pr: checkInt(v.pr, 'priority', 0, 65535, { fallback: 0 })!,
        matchOp: 1,
        matchExp: checkPattern(v.matchExp, 'match')!,
        matchLen: 0,
        substExp: checkPattern(v.substExp, 'substitute') ?? '',
        replExp: checkText(v.replExp, 'replacement', 64) ?? '',
        attrs: checkText(v.attrs, 'attributes', 64) ?? '',
      });
    },
    remove: (db, k) => db.dialplan.remove(checkInt(k.id, 'id', 1, 2 ** 31, { required: true })!),
  },
];
