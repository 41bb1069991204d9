/**
 * The portal's operations, shared by the pages and the JSON API: each checks its input, who may
 * do it (admin: everything; subscriber: own data only), writes through @voip/storage and then
 * asks the running proxy to reload what changed, so the change applies to the next request.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { calculateHa1, isStorageError, subscriberHashes, type CdrKind, type CdrPage, type CdrQuery, type PortalStore, type Storage, type SubscriberPageQuery } from '@voip/storage';
import type { Logger } from 'pino';
import { hashPassword, verifyPassword } from './auth/password-hash.js';
import type { Principal, SessionStore } from './auth/session-store.js';
import type { SignInThrottle } from './auth/sign-in-throttle.js';
import type { Mailer } from './clients/mailer.js';
import type { ProxyAdminClient, ReloadKind } from './clients/proxy-admin-client.js';
import { MESSAGE_ID_RE, type VoicemailClient, type VoicemailMessage } from './clients/voicemail-client.js';
import type { PortalConfig } from './config.js';
import { PortalError } from './errors.js';
import type { PortalMetrics } from './metrics.js';
import type { SubscriberDetail } from './html/pages.js';
import { ACL_GROUPS, checkPreferenceValue, type ResourceDef } from './resources.js';
import { checkAccount, checkChoice, checkDomain, checkInt, checkSipPassword, checkText, checkUser } from './validation.js';

export interface PortalDeps {
  config: PortalConfig;
  storage: Storage;
  store: PortalStore;
  sessions: SessionStore;
  throttle: SignInThrottle;
  proxy: ProxyAdminClient;
  voicemail: VoicemailClient;
  mailer: Mailer;
  /** A provisioning file: every write answers 409. */
  readOnly: boolean;
  metrics: PortalMetrics;
  log: Logger;
  now?: () => number;
}

type Account = { username: string; domain: string };

const ADMIN_NAME_RE = /^[A-Za-z0-9_.-]{1,64}$/;
/** A hash that never verifies, spent on unknown names so timing does not reveal which names exist. */
let decoyHash: Promise<string> | null = null;

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function dateMs(v: string | undefined, what: string, endOfDay: boolean): number | undefined {
  if (v === undefined || v === '') return undefined;
  if (!/^\d{4}-\d{2}-\d{2}$/.test(v)) throw new PortalError('PORTAL_ERR_BAD_INPUT', `${what} must be a date YYYY-MM-DD`);
  const t = Date.parse(`${v}T00:00:00Z`);
  if (Number.isNaN(t)) throw new PortalError('PORTAL_ERR_BAD_INPUT', `${what} must be a date YYYY-MM-DD`);
  return endOfDay ? t + 86_400_000 : t;
}

export class PortalService {
  private readonly now: () => number;

  constructor(private readonly d: PortalDeps) {
    this.now = d.now ?? Date.now;
  }

  private writable(): void {
    if (this.d.readOnly) throw new PortalError('PORTAL_ERR_READ_ONLY', 'change the provisioning file, or run the portal on the MySQL database');
  }

  private async reload(kind: ReloadKind | null): Promise<void> {
    if (kind === null) return;
    this.d.metrics.writes.inc({ reload: kind });
    try {
      await this.d.proxy.reload(kind);
    } catch (err) {
      // The row is written; the proxy's periodic reload picks it up. Say so rather than fail the change.
      this.d.log.warn({ kind, err: (err as Error).message }, 'proxy reload failed');
      throw new PortalError('PORTAL_ERR_UPSTREAM', `saved, but the proxy did not reload ${kind}: ${(err as Error).message}`);
    }
  }

  // ---------------------------------------------------------------- sign-in
  async signIn(ip: string, user: string, password: string): Promise<Principal> {
    const name = user.trim().slice(0, 200);
    const wait = this.d.throttle.retryAfter(ip, name);
    if (wait > 0) {
      this.d.metrics.signIns.inc({ result: 'throttled' });
      const e = new PortalError('PORTAL_ERR_THROTTLED', `try again in ${Math.ceil(wait / 1000)} s`) as PortalError & { retryAfterS: number };
      e.retryAfterS = wait / 1000;
      throw e;
    }
    const p = await this.checkCredentials(name, password.slice(0, 256));
    if (p === null) {
      this.d.throttle.failure(ip, name);
      this.d.metrics.signIns.inc({ result: 'failure' });
      throw new PortalError('PORTAL_ERR_UNAUTHENTICATED', 'wrong name or password');
    }
    this.d.throttle.success(name);
    this.d.metrics.signIns.inc({ result: 'success' });
    return p;
  }

  private async checkCredentials(name: string, password: string): Promise<Principal | null> {
    if (name.includes('@')) {
      let a: Account;
      try {
        a = checkAccount(name);
      } catch {
        return null;
      }
      const s = await this.d.storage.subscribers.get(a.username, a.domain);
      if (s === null || (await this.d.store.isDisabled(a.username, a.domain))) return null;
      // The subscriber row's own check (auth_db): the clear password, or HA1 = MD5(user:realm:password), realm = domain.
      const ok = s.password !== '' ? sameText(s.password, password) : sameText(s.ha1.toLowerCase(), calculateHa1(s.username, s.domain, password));
      return ok ? { role: 'subscriber', username: s.username, domain: s.domain } : null;
    }
    if (!ADMIN_NAME_RE.test(name)) return null;
    const acct = await this.d.store.getAccount(name);
    if (acct === null) {
      decoyHash ??= hashPassword(randomBytes(16).toString('hex'), this.d.config.scryptCost);
      await verifyPassword(password, await decoyHash);
      return null;
    }
    return (await verifyPassword(password, acct.passwordHash)) ? { role: 'admin', name: acct.name } : null;
  }

  /** Creates (or, with `reset`, re-hashes) an administrator: `voip-portal admin add`, or config/env at start. */
  async ensureAdmin(name: string, password: string, reset: boolean): Promise<'created' | 'updated' | 'kept'> {
    if (!ADMIN_NAME_RE.test(name)) throw new PortalError('PORTAL_ERR_BAD_INPUT', 'administrator name: 1-64 letters, digits, _ . -');
    if (password.length < 8) throw new PortalError('PORTAL_ERR_BAD_INPUT', 'administrator password: at least 8 characters');
    const existing = await this.d.store.getAccount(name);
    const hash = await hashPassword(password, this.d.config.scryptCost);
    if (existing === null) {
      await this.d.store.addAccount({ name, role: 'admin', passwordHash: hash, created: this.now() });
      return 'created';
    }
    if (!reset) return 'kept';
    await this.d.store.setAccountHash(name, hash);
    return 'updated';
  }

  // ---------------------------------------------------------------- subscribers (admin)
  subscriberQuery(q: Record<string, string | undefined>): SubscriberPageQuery & { limit: number; offset: number } {
    return {
      search: checkText(q.q ?? q.search, 'search', 64) ?? undefined,
      domain: q.domain ? checkDomain(q.domain) : undefined,
      offset: checkInt(q.offset, 'offset', 0, 10_000_000, { fallback: 0 })!,
      limit: checkInt(q.limit, 'limit', 1, 500, { fallback: 50 })!,
    };
  }

  subscribers(q: SubscriberPageQuery): ReturnType<PortalStore['subscriberPage']> {
    return this.d.store.subscriberPage(q);
  }

  async overview(): Promise<{ subscribers: number; domains: number; online: number | null }> {
    const [page, domains] = await Promise.all([this.d.store.subscriberPage({ offset: 0, limit: 1 }), this.d.storage.domains.list()]);
    let online: number | null = null;
    if (this.d.proxy.configured) online = await this.d.proxy.bindings().then((b) => b.length, () => null);
    return { subscribers: page.total, domains: domains.length, online };
  }

  private credentials(username: string, domain: string, password: string): { password: string; ha1: string; ha1b: string } {
    return { password: this.d.config.storePlaintext ? password : '', ...subscriberHashes(username, domain, password) };
  }

  async addSubscriber(b: Record<string, unknown>): Promise<string> {
    this.writable();
    const username = checkUser(b.username);
    const domain = checkDomain(b.domain);
    const password = checkSipPassword(b.password);
    const email = checkText(b.email, 'e-mail address', 128);
    await this.d.storage.subscribers.add({ username, domain, ...this.credentials(username, domain, password), emailAddress: email });
    this.d.metrics.writes.inc({ reload: 'none' });
    return `${username}@${domain}`;
  }

  private async existing(a: Account): Promise<void> {
    if ((await this.d.storage.subscribers.get(a.username, a.domain)) === null) throw new PortalError('PORTAL_ERR_NOT_FOUND', `no subscriber ${a.username}@${a.domain}`);
  }

  async subscriberDetail(a: Account): Promise<SubscriberDetail> {
    const s = await this.d.storage.subscribers.get(a.username, a.domain);
    if (s === null) throw new PortalError('PORTAL_ERR_NOT_FOUND', `no subscriber ${a.username}@${a.domain}`);
    const [disabled, groups, prefs, aliases, devices] = await Promise.all([
      this.d.store.isDisabled(a.username, a.domain),
      this.d.storage.groups.groupsOf(a.username, a.domain),
      this.d.storage.preferences.list({ username: a.username, domain: a.domain }),
      this.d.storage.aliases.list(a),
      this.devices(a),
    ]);
    return {
      username: s.username,
      domain: s.domain,
      emailAddress: s.emailAddress,
      disabled,
      groups,
      preferences: prefs.map((p) => ({ attribute: p.attribute, value: p.value })),
      aliases: aliases.map((x) => `${x.aliasUsername}@${x.aliasDomain}`),
      devices,
    };
  }

  private endSessionsOf(a: Account, keep?: string): void {
    this.d.sessions.destroyFor((p) => p.role === 'subscriber' && p.username === a.username && p.domain === a.domain, keep);
  }

  async resetPassword(a: Account, password: unknown): Promise<void> {
    this.writable();
    const pw = checkSipPassword(password);
    const c = this.credentials(a.username, a.domain, pw);
    if (!(await this.d.store.setCredentials(a.username, a.domain, c.password, c.ha1, c.ha1b))) throw new PortalError('PORTAL_ERR_NOT_FOUND', `no subscriber ${a.username}@${a.domain}`);
    this.endSessionsOf(a);
  }

  async setEmail(a: Account, email: unknown): Promise<void> {
    this.writable();
    const e = checkText(email, 'e-mail address', 128) ?? '';
    if (!(await this.d.store.setEmail(a.username, a.domain, e))) throw new PortalError('PORTAL_ERR_NOT_FOUND', `no subscriber ${a.username}@${a.domain}`);
  }

  async disable(a: Account): Promise<void> {
    this.writable();
    await this.existing(a);
    await this.d.store.disable(a.username, a.domain, 'admin');
    this.endSessionsOf(a);
    // Registered phones would otherwise keep receiving calls until their bindings expire.
    await this.d.proxy.removeBindings(`${a.username}@${a.domain}`).catch((err: Error) => this.d.log.warn({ err: err.message }, 'could not drop bindings'));
  }

  async enable(a: Account): Promise<void> {
    this.writable();
    await this.existing(a);
    await this.d.store.enable(a.username, a.domain);
  }

  async grant(a: Account, grp: unknown): Promise<void> {
    this.writable();
    await this.existing(a);
    await this.d.storage.groups.grant(a.username, a.domain, checkChoice(grp, 'group', ACL_GROUPS));
    await this.reload('preferences');
  }

  async revoke(a: Account, grp: unknown): Promise<void> {
    this.writable();
    await this.d.storage.groups.revoke(a.username, a.domain, checkText(grp, 'group', 64, { required: true })!);
    await this.reload('preferences');
  }

  async removeSubscriber(a: Account): Promise<void> {
    this.writable();
    await this.existing(a);
    await this.d.store.enable(a.username, a.domain);
    await this.d.storage.groups.revoke(a.username, a.domain);
    await this.d.storage.preferences.remove(a.username, a.domain);
    for (const al of await this.d.storage.aliases.list(a)) await this.d.storage.aliases.remove(al.aliasUsername, al.aliasDomain);
    await this.d.storage.subscribers.remove(a.username, a.domain);
    this.endSessionsOf(a);
    await this.d.proxy.removeBindings(`${a.username}@${a.domain}`).catch((err: Error) => this.d.log.warn({ err: err.message }, 'could not drop bindings'));
    await this.reload('preferences');
  }

  async addRow(def: ResourceDef, b: Record<string, unknown>): Promise<void> {
    this.writable();
    await def.add(this.d.storage, b);
    await this.reload(def.reload);
  }

  async removeRow(def: ResourceDef, b: Record<string, unknown>): Promise<void> {
    this.writable();
    if (!(await def.remove(this.d.storage, b))) throw new PortalError('PORTAL_ERR_NOT_FOUND', `${def.title}: no such entry`);
    await this.reload(def.reload);
  }

  // ---------------------------------------------------------------- CDRs
  /** Admin: any account; subscriber: own calls only (asking for another account is 403, not an empty list). */
  async cdrs(p: Principal, q: Record<string, string | undefined>, defaultLimit: number): Promise<CdrPage> {
    const query: CdrQuery = {
      kind: (q.kind === 'missed' ? 'missed' : 'acc') as CdrKind,
      number: checkText(q.number, 'number', 64) ?? undefined,
      from: dateMs(q.from, 'from', false),
      to: dateMs(q.to, 'to', true),
      before: checkInt(q.before, 'before', 1, 2 ** 53, {}) ?? undefined,
      limit: checkInt(q.limit, 'limit', 1, 1000, { fallback: defaultLimit })!,
    };
    if (p.role === 'admin') {
      if (q.account) query.account = checkAccount(q.account);
      query.user = checkText(q.user, 'user', 64) ?? undefined;
    } else {
      const own = `${p.username}@${p.domain}`;
      if ((q.account && q.account.toLowerCase() !== own.toLowerCase()) || (q.user && q.user !== p.username)) {
        throw new PortalError('PORTAL_ERR_FORBIDDEN', 'subscribers see their own calls only');
      }
      query.account = { username: p.username, domain: p.domain };
    }
    return this.d.store.cdrs(query);
  }

  // ---------------------------------------------------------------- voicemail
  private mailboxFor(p: Principal, mailbox: string): string {
    const a = checkAccount(mailbox, 'mailbox');
    if (p.role !== 'admin' && (a.username !== p.username || a.domain !== p.domain.toLowerCase())) {
      throw new PortalError('PORTAL_ERR_FORBIDDEN', 'subscribers reach their own mailbox only');
    }
    return `${a.username}@${a.domain}`;
  }

  voicemail(p: Principal, mailbox: string): Promise<VoicemailMessage[]> {
    return this.d.voicemail.list(this.mailboxFor(p, mailbox));
  }

  async voicemailAudio(p: Principal, mailbox: string, id: string): Promise<Buffer> {
    const box = this.mailboxFor(p, mailbox);
    const wav = MESSAGE_ID_RE.test(id) ? await this.d.voicemail.audio(box, id) : null;
    if (wav === null) throw new PortalError('PORTAL_ERR_NOT_FOUND', 'no such message');
    return wav;
  }

  async deleteVoicemail(p: Principal, mailbox: string, id: string): Promise<void> {
    const box = this.mailboxFor(p, mailbox);
    if (!(await this.d.voicemail.remove(box, id))) throw new PortalError('PORTAL_ERR_NOT_FOUND', 'no such message');
  }

  // ---------------------------------------------------------------- subscriber self-service
  private async devices(a: Account): ReturnType<ProxyAdminClient['bindings']> {
    if (!this.d.proxy.configured) return [];
    return this.d.proxy.bindings(`${a.username}@${a.domain}`).catch((err: Error) => {
      this.d.log.warn({ err: err.message }, 'proxy bindings unavailable');
      return [];
    });
  }

  async me(p: Principal & { role: 'subscriber' }): Promise<{ account: string; groups: string[]; devices: Awaited<ReturnType<ProxyAdminClient['bindings']>> }> {
    const [groups, devices] = await Promise.all([this.d.storage.groups.groupsOf(p.username, p.domain), this.devices(p)]);
    return { account: `${p.username}@${p.domain}`, groups, devices };
  }

  async forwarding(p: Principal & { role: 'subscriber' }): Promise<{ callfwd: string; fwdbusy: string; fwdnoanswer: string; fwdnoanswer_timeout: string }> {
    const rows = await this.d.storage.preferences.list({ username: p.username, domain: p.domain });
    const get = (attr: string) => rows.find((r) => r.attribute === attr)?.value ?? '';
    return { callfwd: get('callfwd'), fwdbusy: get('fwdbusy'), fwdnoanswer: get('fwdnoanswer'), fwdnoanswer_timeout: get('fwdnoanswer_timeout') };
  }

  async setForwarding(p: Principal & { role: 'subscriber' }, b: Record<string, unknown>): Promise<void> {
    this.writable();
    // Check every field before writing any: a half-applied form would forward differently than shown.
    const plan: { attribute: string; row: { type: number; value: string } | null }[] = [];
    for (const attribute of ['callfwd', 'fwdbusy', 'fwdnoanswer', 'fwdnoanswer_timeout']) {
      if (!(attribute in b)) continue;
      const v = b[attribute];
      plan.push({ attribute, row: v === '' || v === null ? null : checkPreferenceValue(attribute, v) });
    }
    for (const { attribute, row } of plan) {
      await this.d.storage.preferences.remove(p.username, p.domain, attribute);
      if (row !== null) await this.d.storage.preferences.add({ uuid: '', username: p.username, domain: p.domain, attribute, type: row.type, value: row.value });
    }
    await this.reload('preferences');
  }

  async changeOwnPassword(p: Principal & { role: 'subscriber' }, current: unknown, password: unknown, sessionId: string): Promise<void> {
    this.writable();
    const pw = checkSipPassword(password);
    if (typeof current !== 'string' || (await this.checkCredentials(`${p.username}@${p.domain}`, current)) === null) {
      throw new PortalError('PORTAL_ERR_FORBIDDEN', 'the current password is wrong');
    }
    const c = this.credentials(p.username, p.domain, pw);
    await this.d.store.setCredentials(p.username, p.domain, c.password, c.ha1, c.ha1b);
    // Other sessions opened with the old password end; this one stays.
    this.endSessionsOf(p, sessionId);
  }

  // ---------------------------------------------------------------- sign-up
  assertSignupOpen(): void {
    if (!this.d.config.signup.enabled) throw new PortalError('PORTAL_ERR_FORBIDDEN', 'sign-up is switched off');
    this.writable();
  }

  async signupDomains(): Promise<string[]> {
    if (this.d.config.signup.domains.length > 0) return [...this.d.config.signup.domains];
    return (await this.d.storage.domains.list()).map((d) => d.domain);
  }

  async signUp(b: Record<string, unknown>): Promise<{ account: string; email: string }> {
    this.assertSignupOpen();
    const username = checkUser(b.username);
    const domain = checkDomain(b.domain);
    const email = checkText(b.email, 'e-mail address', 128, { required: true })!;
    if (!/^[^\s@]{1,64}@[^\s@]{1,190}$/.test(email)) throw new PortalError('PORTAL_ERR_BAD_INPUT', 'e-mail address must look like name@example.com');
    const password = checkSipPassword(b.password);
    if (!(await this.signupDomains()).map((d) => d.toLowerCase()).includes(domain)) throw new PortalError('PORTAL_ERR_BAD_INPUT', `sign-up is not open in ${domain}`);
    await this.d.store.purgeSignups(this.now());
    try {
      await this.d.store.addDisabled({ username, domain, ...this.credentials(username, domain, password), emailAddress: email }, 'signup');
    } catch (err) {
      if (isStorageError(err, 'STORAGE_ERR_DUPLICATE')) throw new PortalError('PORTAL_ERR_DUPLICATE', `${username}@${domain} is taken`);
      throw err;
    }
    const token = randomBytes(32).toString('base64url');
    const tokenHash = createHash('sha256').update(token).digest('hex');
    try {
      await this.d.store.addSignup({ tokenHash, username, domain, email, expires: this.now() + this.d.config.signup.linkTtl });
      const link = `${this.d.config.publicUrl}/signup/confirm?token=${token}`;
      await this.d.mailer.send(
        email,
        `Confirm your SIP account ${username}@${domain}`,
        `Hello,\n\nsomeone (hopefully you) signed up for the SIP account ${username}@${domain}.\nOpen this link to activate it:\n\n${link}\n\nThe link works for ${Math.round(this.d.config.signup.linkTtl / 3_600_000)} hours. If you did not sign up, ignore this mail.\n`,
      );
    } catch (err) {
      // No mail, no way to confirm: take the account back so the name is free again.
      await this.d.store.takeSignup(tokenHash, 0).catch(() => null);
      await this.d.store.enable(username, domain).catch(() => false);
      await this.d.storage.subscribers.remove(username, domain).catch(() => false);
      throw err;
    }
    this.d.metrics.signUps.inc({ step: 'requested' });
    return { account: `${username}@${domain}`, email };
  }

  async confirmSignup(token: unknown): Promise<string> {
    this.writable();
    if (typeof token !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(token)) throw new PortalError('PORTAL_ERR_NOT_FOUND', 'this confirmation link is not valid (any more)');
    const row = await this.d.store.takeSignup(createHash('sha256').update(token).digest('hex'), this.now());
    if (row === null) throw new PortalError('PORTAL_ERR_NOT_FOUND', 'this confirmation link is not valid (any more)');
    await this.d.store.enable(row.username, row.domain);
    this.d.metrics.signUps.inc({ step: 'confirmed' });
    return `${row.username}@${row.domain}`;
  }
}

function csvField(v: string | number | null): string {
  let s = v === null ? '' : String(v);
  // A cell starting with = or @ is a formula in spreadsheet programs (CSV injection); + and - stay: E.164 numbers start with +.
  if (/^[=@\t\r]/.test(s)) s = `'${s}`;
  return `"${s.replace(/"/g, '""')}"`;
}

/** CSV of a CDR search, all pages (at most 100,000 rows). */
export async function cdrCsv(svc: PortalService, p: Principal, q: Record<string, string | undefined>): Promise<string> {
  const lines = ['time_utc,caller,dialled,routed_to,sip_code,sip_reason,duration_s,call_id'];
  let before: number | undefined;
  for (let n = 0; n < 100; n++) {
    const page = await svc.cdrs(p, { ...q, before: before === undefined ? undefined : String(before), limit: '1000' }, 1000);
    for (const r of page.rows) {
      lines.push(
        [new Date(r.time).toISOString(), `${r.srcUser}@${r.srcDomain}`, r.dstOuser, `${r.dstUser}@${r.dstDomain}`, r.sipCode, r.sipReason, r.duration, r.callid].map(csvField).join(','),
      );
    }
    if (page.nextBefore === null) break;
    before = page.nextBefore;
  }
  return `${lines.join('\r\n')}\r\n`;
}
