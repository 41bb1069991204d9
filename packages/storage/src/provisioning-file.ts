/**
 * Provisioning file for the in-memory storage (`--db file:subscribers.yaml`): subscribers,
 * aliases, domains, ACL groups, preferences and the provider route's tables (trusted peers,
 * address groups, LCR gateways and rules, speed dials, dial plan) as YAML or JSON, validated by
 * a strict zod schema. Every section is optional. Example:
 *
 *   domains: [example.com]
 *   subscribers:
 *     - { username: alice, domain: example.com, password: secret, email: alice@example.com }
 *     - { username: bob, domain: example.com, ha1: 0123456789abcdef0123456789abcdef }
 *   aliases:
 *     - { alias: 8590@example.com, target: flavio@example.com }
 *   groups:
 *     - { account: alice@example.com, groups: [local, ld] }
 *   preferences:                                   # usr_preferences (avpops)
 *     - { account: alice@example.com, attribute: callfwd, value: "sip:bob@example.com" }
 *     - { account: bob@example.com, attribute: fwdnoanswer_timeout, value: "20", type: 1 }
 *   trusted:                                       # permissions: allow_trusted(), no digest auth
 *     - { src_ip: 192.0.2.50, proto: udp, from_pattern: "^sip:.*@pstn\\.example\\.net$", tag: gw-a }
 *   addresses:                                     # permissions: address groups (grp 1 = trusted)
 *     - { grp: 1, ip_addr: 198.51.100.0, mask: 24, port: 0, tag: carrier-b }
 *   gateways:                                      # lcr_gw (lcr_id 1 unless given)
 *     - { name: gw-a, host: "192.0.2.50:5060", transport: udp, strip: 0, prefix: "", tag: gw-a }
 *     - { name: gw-b, host: pstn.example.net, transport: tcp, params: ";user=phone" }
 *   lcr_rules:                                     # lcr_rule + lcr_rule_target
 *     - prefix: "+1"
 *       from: "^sip:.*@example\\.com$"            # optional caller URI pattern
 *       targets: [{ gw: gw-a, priority: 1 }, { gw: gw-b, priority: 2, weight: 1 }]
 *   speed_dials:                                   # speed_dial: alice dials 01 -> new URI
 *     - { account: alice@example.com, short: "01", uri: "sip:+12125550100@example.com" }
 *   dialplan:                                      # dialplan (dpid 1 unless given)
 *     - { pr: 1, match_exp: "^1([2-9][0-9]{9})$", subst_exp: "^1(.*)$", repl_exp: "+1\\1", attrs: "group=ld" }
 *
 * Defaults follow Kamailio's columns: trusted proto `any`, priority 0; address grp 1, mask 32 (128
 * for IPv6), port 0 (any); gateway lcr_id 1, transport udp, port of the transport, `defunct: true`
 * takes it out of service; rule prefix "" (every number), enabled, no stopper; a target's
 * priority is its position in `targets` (1, 2, … lower is tried first) and its weight 1; dial-plan
 * rules dpid 1, pr 0, match_op 1 (regular expression; 0 = equal, 2 = fnmatch), match_len 0 (any).
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { subscriberHashes } from './ha1.js';
import { MemoryStorage } from './memory-storage.js';
import {
  GATEWAY_NAME,
  hostMask,
  isTargetUri,
  LCR_DEFUNCT_FOREVER,
  LCR_MAX_PRIORITY,
  LCR_MAX_WEIGHT,
  LCR_TRANSPORTS,
  normalizeIp,
  NUMBER_PREFIX,
  parseGatewayHost,
  regexProblem,
  SHORT_NUMBER,
  TRUSTED_PROTOS,
} from './provider-rows.js';
import { StorageError } from './storage-error.js';

const NAME = /^[^@\s:]{1,64}$/;
const DOMAIN = /^[A-Za-z0-9.-]{1,64}$|^\[[0-9A-Fa-f:.]{2,45}\]$/;
const ACCOUNT = /^[^@\s:]{1,64}@[A-Za-z0-9.[\]:-]{1,64}$/;
const HEX_MD5 = /^[0-9a-fA-F]{32}$/;

const SubscriberEntry = z
  .object({
    username: z.string().regex(NAME),
    domain: z.string().regex(DOMAIN),
    password: z.string().max(64).optional(),
    ha1: z.string().regex(HEX_MD5).optional(),
    ha1b: z.string().regex(HEX_MD5).optional(),
    email: z.string().max(128).optional(),
  })
  .strict()
  .refine((s) => s.password !== undefined || s.ha1 !== undefined, 'a subscriber needs password or ha1');

/** A regular expression stored in a VARCHAR(maxLength) column: must compile and fit. */
function pattern(maxLength: number) {
  return z.string().superRefine((v, ctx) => {
    const problem = regexProblem(v, maxLength);
    if (problem !== null) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `pattern ${problem}` });
  });
}

const IP = z.string().refine((v) => normalizeIp(v) !== null, 'must be an IPv4 or IPv6 address');
const TAG = z.string().min(1).max(64);
/** Kamailio's INT UNSIGNED flags as 0/1, also written as true/false. */
const FLAG = z.union([z.boolean(), z.literal(0), z.literal(1)]).transform((v) => (v === true || v === 1 ? 1 : 0));

const TrustedEntry = z
  .object({
    src_ip: IP,
    proto: z.enum(TRUSTED_PROTOS).default('any'),
    from_pattern: pattern(64).optional(),
    ruri_pattern: pattern(64).optional(),
    tag: TAG.optional(),
    priority: z.number().int().min(-2147483648).max(2147483647).default(0),
  })
  .strict();

const AddressEntry = z
  .object({
    grp: z.number().int().min(0).max(4294967295).default(1),
    ip_addr: IP,
    mask: z.number().int().min(0).max(128).optional(),
    port: z.number().int().min(0).max(65535).default(0),
    tag: TAG.optional(),
  })
  .strict()
  .refine((a) => a.mask === undefined || a.mask <= hostMask(normalizeIp(a.ip_addr) ?? ''), { message: 'mask is longer than the address', path: ['mask'] });

const LCR_ID = z.number().int().min(1).max(65535).default(1);

const GatewayEntry = z
  .object({
    name: z.string().regex(GATEWAY_NAME, 'must be 1..128 letters, digits, "_", "." or "-"'),
    host: z.string().superRefine((v, ctx) => {
      const h = parseGatewayHost(v);
      if (!h.ok) ctx.addIssue({ code: z.ZodIssueCode.custom, message: h.reason });
    }),
    port: z.number().int().min(1).max(65535).optional(),
    transport: z.enum(['udp', 'tcp', 'tls']).default('udp'),
    strip: z.number().int().min(0).max(255).default(0),
    prefix: z.union([z.literal(''), z.string().regex(NUMBER_PREFIX, 'must be up to 16 of 0-9 + * #')]).default(''),
    tag: TAG.optional(),
    params: z.string().regex(/^;[^\s]{1,63}$/, 'must be URI parameters starting with ";" (at most 64 characters)').optional(),
    defunct: z.boolean().default(false),
    lcr_id: LCR_ID,
  })
  .strict();

const TargetEntry = z
  .object({
    gw: z.string().regex(GATEWAY_NAME, 'must name a gateway'),
    priority: z.number().int().min(0).max(LCR_MAX_PRIORITY).optional(),
    weight: z.number().int().min(1).max(LCR_MAX_WEIGHT).default(1),
  })
  .strict();

const LcrRuleEntry = z
  .object({
    prefix: z.union([z.literal(''), z.string().regex(NUMBER_PREFIX, 'must be up to 16 of 0-9 + * #')]),
    from: pattern(64).optional(),
    request_uri: pattern(64).optional(),
    stopper: FLAG.default(0),
    enabled: FLAG.default(1),
    lcr_id: LCR_ID,
    targets: z.array(TargetEntry).min(1, 'a rule needs at least one gateway'),
  })
  .strict();

const SpeedDialEntry = z
  .object({
    account: z.string().regex(ACCOUNT),
    short: z.string().regex(SHORT_NUMBER, 'must be two digits'),
    uri: z.string().refine((u) => isTargetUri(u, 255), 'must be a sip:, sips: or tel: URI (at most 255 characters)'),
  })
  .strict();

const DialplanEntry = z
  .object({
    dpid: z.number().int().min(0).max(2147483647).default(1),
    pr: z.number().int().min(0).max(2147483647).default(0),
    match_op: z.union([z.literal(0), z.literal(1), z.literal(2)]).default(1),
    match_exp: z.string().min(1).max(64),
    match_len: z.number().int().min(0).max(255).default(0),
    subst_exp: z.union([z.literal(''), pattern(64)]).default(''),
    repl_exp: z.string().max(256).default(''),
    attrs: z.string().max(64).default(''),
  })
  .strict()
  .superRefine((d, ctx) => {
    // match_op 1: match_exp is a regular expression (dialplan compiles it with PCRE).
    const problem = d.match_op === 1 ? regexProblem(d.match_exp, 64) : null;
    if (problem !== null) ctx.addIssue({ code: z.ZodIssueCode.custom, message: `pattern ${problem}`, path: ['match_exp'] });
  });

const ProvisioningSchema = z
  .object({
    domains: z.array(z.string().regex(DOMAIN)).default([]),
    subscribers: z.array(SubscriberEntry).default([]),
    aliases: z.array(z.object({ alias: z.string().regex(ACCOUNT), target: z.string().regex(ACCOUNT) }).strict()).default([]),
    groups: z.array(z.object({ account: z.string().regex(ACCOUNT), groups: z.array(z.string().min(1).max(64)) }).strict()).default([]),
    preferences: z
      .array(
        z
          .object({
            account: z.string().regex(ACCOUNT),
            attribute: z.string().min(1).max(32),
            value: z.string().max(128),
            type: z.union([z.literal(0), z.literal(1)]).default(0),
          })
          .strict(),
      )
      .default([]),
    trusted: z.array(TrustedEntry).default([]),
    addresses: z.array(AddressEntry).default([]),
    gateways: z.array(GatewayEntry).default([]),
    lcr_rules: z.array(LcrRuleEntry).default([]),
    speed_dials: z.array(SpeedDialEntry).default([]),
    dialplan: z.array(DialplanEntry).default([]),
  })
  .strict();

export type Provisioning = z.output<typeof ProvisioningSchema>;

function splitAccount(a: string): { username: string; domain: string } {
  const at = a.lastIndexOf('@');
  return { username: a.slice(0, at), domain: a.slice(at + 1) };
}

/** Validates provisioning data (already parsed from YAML/JSON) and fills a MemoryStorage. */
export async function provisionMemoryStorage(input: unknown, origin = '(inline)'): Promise<MemoryStorage> {
  const r = ProvisioningSchema.safeParse(input ?? {});
  if (!r.success) {
    const first = r.error.issues[0]!;
    throw new StorageError('STORAGE_ERR_PROVISIONING', `${origin}: ${first.path.join('.') || '(root)'}: ${first.message}`);
  }
  const p = r.data;
  const storage = new MemoryStorage(origin === '(inline)' ? 'memory' : `memory (provisioned from ${origin})`);
  for (const d of p.domains) await storage.domains.add(d);
  for (const s of p.subscribers) {
    const hashes = s.password !== undefined ? subscriberHashes(s.username, s.domain, s.password) : { ha1: '', ha1b: '' };
    await storage.subscribers.add({
      username: s.username,
      domain: s.domain,
      password: s.password ?? '',
      ha1: (s.ha1 ?? hashes.ha1).toLowerCase(),
      ha1b: (s.ha1b ?? hashes.ha1b).toLowerCase(),
      emailAddress: s.email ?? '',
    });
  }
  for (const a of p.aliases) {
    const alias = splitAccount(a.alias);
    const target = splitAccount(a.target);
    await storage.aliases.add({ aliasUsername: alias.username, aliasDomain: alias.domain, username: target.username, domain: target.domain });
  }
  for (const g of p.groups) {
    const acc = splitAccount(g.account);
    for (const grp of g.groups) await storage.groups.grant(acc.username, acc.domain, grp);
  }
  for (const pr of p.preferences) {
    const acc = splitAccount(pr.account);
    await storage.preferences.add({ uuid: '', username: acc.username, domain: acc.domain, attribute: pr.attribute, type: pr.type, value: pr.value });
  }
  await provisionProviderTables(storage, p, origin);
  return storage;
}

/** A failure while filling one entry, reported with the entry's path like a schema error. */
async function at<T>(origin: string, path: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new StorageError('STORAGE_ERR_PROVISIONING', `${origin}: ${path}: ${(err as Error).message}`);
  }
}

/** The sections of the provider route: trusted, addresses, gateways, lcr_rules, speed_dials, dialplan. */
async function provisionProviderTables(storage: MemoryStorage, p: Provisioning, origin: string): Promise<void> {
  for (const [i, t] of p.trusted.entries()) {
    await at(origin, `trusted.${i}`, () =>
      storage.trusted.add({
        srcIp: normalizeIp(t.src_ip)!,
        proto: t.proto,
        fromPattern: t.from_pattern ?? null,
        ruriPattern: t.ruri_pattern ?? null,
        tag: t.tag ?? null,
        priority: t.priority,
      }),
    );
  }
  for (const [i, a] of p.addresses.entries()) {
    const ip = normalizeIp(a.ip_addr)!;
    await at(origin, `addresses.${i}`, () => storage.addresses.add({ grp: a.grp, ipAddr: ip, mask: a.mask ?? hostMask(ip), port: a.port, tag: a.tag ?? null }));
  }
  // Rules name their gateways; the key is (lcr_id, name) since names are unique per instance.
  const gatewayIds = new Map<string, number>();
  for (const [i, g] of p.gateways.entries()) {
    const h = parseGatewayHost(g.host);
    if (!h.ok) throw new StorageError('STORAGE_ERR_PROVISIONING', `${origin}: gateways.${i}.host: ${h.reason}`);
    if (h.port !== null && g.port !== undefined && h.port !== g.port) {
      throw new StorageError('STORAGE_ERR_PROVISIONING', `${origin}: gateways.${i}.port: ${g.port} contradicts the port in host "${g.host}"`);
    }
    const id = await at(origin, `gateways.${i}`, () =>
      storage.lcr.addGateway({
        lcrId: g.lcr_id,
        gwName: g.name,
        ipAddr: h.ipAddr,
        hostname: h.hostname,
        port: g.port ?? h.port,
        params: g.params ?? null,
        uriScheme: 1,
        transport: LCR_TRANSPORTS[g.transport],
        strip: g.strip,
        prefix: g.prefix === '' ? null : g.prefix,
        tag: g.tag ?? null,
        flags: 0,
        defunct: g.defunct ? LCR_DEFUNCT_FOREVER : null,
      }),
    );
    gatewayIds.set(`${g.lcr_id}\u0000${g.name}`, id);
  }
  for (const [i, r] of p.lcr_rules.entries()) {
    const gwIds = r.targets.map((t, j) => {
      const id = gatewayIds.get(`${r.lcr_id}\u0000${t.gw}`);
      if (id === undefined) throw new StorageError('STORAGE_ERR_PROVISIONING', `${origin}: lcr_rules.${i}.targets.${j}.gw: no gateway "${t.gw}" in gateways (lcr_id ${r.lcr_id})`);
      return id;
    });
    const ruleId = await at(origin, `lcr_rules.${i}`, () =>
      storage.lcr.addRule({
        lcrId: r.lcr_id,
        prefix: r.prefix === '' ? null : r.prefix,
        fromUri: r.from ?? null,
        requestUri: r.request_uri ?? null,
        mtTvalue: null,
        stopper: r.stopper,
        enabled: r.enabled,
      }),
    );
    for (const [j, t] of r.targets.entries()) {
      await at(origin, `lcr_rules.${i}.targets.${j}`, () =>
        storage.lcr.addTarget({ lcrId: r.lcr_id, ruleId, gwId: gwIds[j]!, priority: t.priority ?? Math.min(j + 1, LCR_MAX_PRIORITY), weight: t.weight }),
      );
    }
  }
  for (const [i, sd] of p.speed_dials.entries()) {
    const acc = splitAccount(sd.account);
    await at(origin, `speed_dials.${i}`, () =>
      storage.speedDial.add({ username: acc.username, domain: acc.domain, sdUsername: sd.short, sdDomain: acc.domain, newUri: sd.uri, fname: '', lname: '', description: '' }),
    );
  }
  for (const d of p.dialplan) {
    await storage.dialplan.add({
      dpid: d.dpid,
      pr: d.pr,
      matchOp: d.match_op,
      matchExp: d.match_exp,
      matchLen: d.match_len,
      substExp: d.subst_exp,
      replExp: d.repl_exp,
      attrs: d.attrs,
    });
  }
}

export async function loadProvisioningFile(path: string): Promise<MemoryStorage> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new StorageError('STORAGE_ERR_PROVISIONING', `cannot read provisioning file ${path}: ${(err as Error).message}`);
  }
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (err) {
    throw new StorageError('STORAGE_ERR_PROVISIONING', `provisioning file ${path} is not valid YAML/JSON: ${(err as Error).message.split('\n')[0]}`);
  }
  return provisionMemoryStorage(data, path);
}
