/**
 * Provisioning file for the in-memory storage (`--db file:subscribers.yaml`): subscribers,
 * aliases, domains, ACL groups and preferences as YAML or JSON, validated by a strict zod
 * schema. Example:
 *
 *   domains: [example.com]
 *   subscribers:
 *     - { username: alice, domain: example.com, password: secret, email: alice@example.com }
 *     - { username: bob, domain: example.com, ha1: 0123456789abcdef0123456789abcdef }
 *   aliases:
 *     - { alias: 8590@example.com, target: flavio@example.com }
 *   groups:
 *     - { account: alice@example.com, groups: [local, ld] }
 *   preferences:
 *     - { account: alice@example.com, attribute: callfwd, value: "sip:bob@example.com" }
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { subscriberHashes } from './ha1.js';
import { MemoryStorage } from './memory-storage.js';
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
  return storage;
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
