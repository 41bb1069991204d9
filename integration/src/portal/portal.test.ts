/**
 * The provider portal (issue 12) end to end: Debian's Chromium driven by playwright-core against
 * voip-portal on a fresh MariaDB database (sipctl db init), the real proxy on the provider route
 * over the same database, SIPp as phones and as the PSTN gateway, a local SMTP sink for the
 * sign-up mail. What the browser changes must work in the running proxy at once: the portal
 * calls the proxy's admin API after each write, and credentials are read per REGISTER.
 *
 * Screenshots of the main pages go to <workdir>/screenshots (kept with INTEGRATION_KEEP_LOGS=1)
 * and, when PORTAL_SCREENSHOT_DIR is set, there too (how docs/portal-*.png were made).
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { SMTPServer } from 'smtp-server';
import { allocatePorts, assertSippOk, createBackend, explain, receivedBy, type Backend, type ProgramHandle, type SippResult } from '../harness/index.js';
import { DOMAIN, registerPhone, sipctlOk } from '../mysql/ch5-lab.js';
import { adminQuery, createTestDatabase, type TestDatabase } from '../mysql/mysql-database.js';
import { GW_A_HOST, scenario, startProviderProxy, type ProviderPorts, type ProviderProxy } from '../provider/provider-lab.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ADMIN = { user: 'admin', password: 'portal-admin-pw' };
const CAROL_PW = 'carol-first-1';
const CAROL_PW2 = 'carol-second-2';
/** SQL and HTML metacharacters that must be stored and shown exactly as typed. */
const NASTY_USER = "o'hara;--";
const NASTY_EMAIL = `"><script>window.__xss=1</script>'; DROP TABLE subscriber;--@x.example`;
const NASTY_TEXT = `<b>bold</b> ' OR '1'='1 "; DELETE FROM speed_dial; --`;

function finals(r: SippResult, m: string): number[] {
  return receivedBy(r, { cseqMethod: m }).map((x) => x.status!).filter((s) => s >= 200);
}

function invitedUser(r: SippResult): string | undefined {
  const ruri = receivedBy(r, { method: 'INVITE' })[0]?.requestUri;
  return ruri === undefined || ruri === null ? undefined : /^sips?:([^@]+)@/.exec(ruri)?.[1];
}

interface Mail {
  to: string;
  text: string;
}

/** A local SMTP sink (smtp-server): accepts every message and keeps it for the test. */
async function startSmtpSink(host: string, port: number): Promise<{ mails: Mail[]; close(): Promise<void> }> {
  const mails: Mail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, cb) {
      let raw = '';
      stream.setEncoding('utf8');
      stream.on('data', (d: string) => (raw += d));
      stream.on('end', () => {
        mails.push({ to: session.envelope.rcptTo.map((r) => r.address).join(','), text: raw });
        cb();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return { mails, close: () => new Promise<void>((r) => server.close(() => r())) };
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('provider portal: browser, MariaDB, the real proxy and SIPp', () => {
  let lab: Backend;
  let db: TestDatabase;
  let ports: ProviderPorts;
  let proxy: ProviderProxy;
  let portal: ProgramHandle;
  let portalUrl: string;
  let smtp: Awaited<ReturnType<typeof startSmtpSink>>;
  let browser: Browser;
  let adminCtx: BrowserContext;
  let admin: Page;
  let carolCtx: BrowserContext;
  let carol: Page;
  let carolPort: number;
  let bobPort: number;
  let davePort: number;
  let shots: string;

  async function shot(page: Page, name: string): Promise<void> {
    const file = join(shots, `portal-${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    const out = process.env.PORTAL_SCREENSHOT_DIR;
    if (out) {
      mkdirSync(out, { recursive: true });
      copyFileSync(file, join(out, `portal-${name}.png`));
    }
  }

  async function signIn(page: Page, user: string, password: string): Promise<void> {
    await page.goto(`${portalUrl}/login`);
    await page.getByLabel('Administrator name, or SIP account (user@domain)').fill(user);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForLoadState();
  }

  /** Fills a form field by its label within the form whose submit button is `button`. */
  async function submitForm(page: Page, formAction: string, values: Record<string, string>, select: Record<string, string> = {}): Promise<void> {
    const form = page.locator(`form[action="${formAction}"]`).last();
    for (const [label, v] of Object.entries(values)) await form.getByLabel(label, { exact: true }).fill(v);
    for (const [label, v] of Object.entries(select)) await form.getByLabel(label, { exact: true }).selectOption(v);
    await Promise.all([page.waitForNavigation(), form.locator('button[type="submit"]').click()]);
  }

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium (.ci/run installs it)`);
    lab = await createBackend('portal');
    shots = lab.workDir.sub('screenshots');
    const [sip, adminPort, gwA, gwB, voicemail, portalPort, smtpPort, c, b, d] = await allocatePorts(10);
    ports = { sip: sip!, admin: adminPort!, gwA: gwA!, gwB: gwB!, voicemail: voicemail! };
    [carolPort, bobPort, davePort] = [c!, b!, d!];
    db = await createTestDatabase('voip_it_portal');
    // What an operator does before the portal exists: schema, domain, two subscribers.
    await sipctlOk(['--db', db.url, 'db', 'init']);
    await sipctlOk(['--db', db.url, 'domain', 'add', DOMAIN]);
    await sipctlOk(['--db', db.url, 'add', `alice@${DOMAIN}`, 'alice-pw']);
    await sipctlOk(['--db', db.url, 'add', `bob@${DOMAIN}`, 'bob-pw']);
    proxy = await startProviderProxy(lab, { dbUrl: db.url, ports });
    smtp = await startSmtpSink(lab.host, smtpPort!);
    portalUrl = `http://${lab.host}:${portalPort}`;
    const cfg = lab.workDir.file('portal.json');
    writeFileSync(
      cfg,
      JSON.stringify({
        admin: ADMIN,
        smtp: { host: lab.host, port: smtpPort, from: 'portal@example.com' },
        signup: { domains: [DOMAIN] },
        // The minimum cost keeps the test quick; production keeps the default 2^15.
        scryptCost: 16384,
      }),
    );
    portal = await lab.startProgram(
      'voip-portal',
      ['--config', cfg, '--db', db.url, '--listen', `${lab.host}:${portalPort}`, '--proxy-admin', proxy.adminUrl, '--public-url', portalUrl, '--insecure-cookie', '--log-level', 'warn'],
      { readyPattern: /listening on/, readyTimeoutMs: 20_000 },
    );
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking'],
    });
    adminCtx = await browser.newContext({ viewport: { width: 1100, height: 800 } });
    admin = await adminCtx.newPage();
    admin.on('dialog', () => assert.fail('a dialog opened: markup from the database was executed'));
  });

  after(async () => {
    await browser?.close();
    await smtp?.close();
    await lab?.close();
    await db?.drop();
  });

  it('the administrator signs in, adds carol, grants ld, adds a gateway and an LCR rule', async () => {
    await signIn(admin, ADMIN.user, ADMIN.password);
    assert.match(admin.url(), /\/admin$/);
    await admin.goto(`${portalUrl}/admin/subscribers`);
    await submitForm(admin, '/admin/subscribers', { 'User name': 'carol', Domain: DOMAIN, 'SIP password': CAROL_PW, 'E-mail address (optional)': 'carol@mail.example' });
    assert.match(admin.url(), /\/admin\/subscribers\/carol%40example\.com$/);
    await submitForm(admin, `/admin/subscribers/carol%40${DOMAIN}/groups`, {}, { 'Grant group': 'ld' });
    assert.match(await admin.locator('main').innerText(), /Group granted/);
    assert.deepEqual(await adminQuery<{ grp: string }[]>('SELECT grp FROM grp WHERE username = ?', ['carol'], db.name).then((r) => r.map((x) => x.grp)), ['ld']);
    await shot(admin, 'subscriber');

    await admin.goto(`${portalUrl}/admin/gateways`);
    await submitForm(admin, '/admin/gateways', { Name: 'pstn-gw', 'IP address': GW_A_HOST, Port: String(ports.gwA) }, { Transport: 'udp' });
    await admin.goto(`${portalUrl}/admin/rules`);
    await submitForm(admin, '/admin/rules', { 'Number prefix': '+1', Gateway: 'pstn-gw', Priority: '1' });
    assert.match(await admin.locator('main').innerText(), /pstn-gw \(priority 1, weight 1\)/);
    await shot(admin, 'lcr-rules');
    await admin.goto(`${portalUrl}/admin/subscribers`);
    await shot(admin, 'subscribers');
  });

  it('SIPp registers as carol with that password and her long-distance call reaches the gateway in E.164', async () => {
    const reg = await registerPhone(lab, proxy, { user: 'carol', password: CAROL_PW, contactPort: carolPort });
    assertSippOk([reg]);
    assert.deepEqual(finals(reg, 'REGISTER'), [401, 200]);
    const gw = await lab.startSipp({ name: 'pstn-gw', scenario: 'uas-answer', localPort: ports.gwA, timeoutMs: 20_000, extraArgs: ['-i', GW_A_HOST] });
    const uac = await lab.runSipp({
      name: 'carol-ld-call', scenario: scenario('uac-call-digest'), remote: proxy.sipAddress,
      keys: { caller: 'carol', callee: '12125551234', domain: DOMAIN }, timeoutMs: 20_000, extraArgs: ['-au', 'carol', '-ap', CAROL_PW],
    });
    const uas = await gw.result(20_000);
    assertSippOk([uac, uas]);
    assert.equal(invitedUser(uas), '+12125551234', explain([uac, uas]));
  });

  it('carol signs in with her SIP credentials, forwards to bob, and a call to carol reaches bob', async () => {
    carolCtx = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
    carol = await carolCtx.newPage();
    await signIn(carol, `carol@${DOMAIN}`, CAROL_PW);
    assert.match(carol.url(), /\/me$/);
    // Her registered phone is listed as a device (from the proxy's live location).
    assert.match(await carol.locator('main').innerText(), new RegExp(`sip:carol@${lab.host.replace(/\./g, '\\.')}:${carolPort}`));
    await shot(carol, 'me-phone');
    await carol.goto(`${portalUrl}/me/forwarding`);
    await submitForm(carol, '/me/forwarding', { 'Always forward to': `sip:bob@${DOMAIN}` });
    assert.match(await carol.locator('main').innerText(), /Forwarding saved/);
    await shot(carol, 'forwarding-phone');

    assertSippOk([await registerPhone(lab, proxy, { user: 'bob', password: 'bob-pw', contactPort: bobPort })]);
    const bob = await lab.startSipp({ name: 'bob-answers', scenario: 'uas-answer', localPort: bobPort, timeoutMs: 20_000 });
    const uac = await lab.runSipp({
      name: 'alice-calls-carol', scenario: scenario('uac-call-digest'), remote: proxy.sipAddress,
      keys: { caller: 'alice', callee: 'carol', domain: DOMAIN }, timeoutMs: 20_000, extraArgs: ['-au', 'alice', '-ap', 'alice-pw'],
    });
    const uas = await bob.result(20_000);
    assertSippOk([uac, uas]);
    assert.equal(invitedUser(uas), 'bob', explain([uac, uas]));
  });

  it('carol sees her own calls; her long-distance call is there with the E.164 number', async () => {
    const r = await waitFor('carol\'s CDR', async () => {
      const res = await carol.request.get(`${portalUrl}/api/cdrs`);
      assert.equal(res.status(), 200);
      const body = (await res.json()) as { rows: { dstOuser: string; dstUser: string; srcUser: string }[] };
      return body.rows.find((x) => x.dstOuser === '12125551234');
    });
    assert.equal(r.srcUser, 'carol');
    assert.equal(r.dstUser, '+12125551234');
    await carol.goto(`${portalUrl}/me/calls`);
    assert.match(await carol.locator('main').innerText(), /12125551234/);
    await shot(carol, 'calls-phone');
  });

  it('carol cannot read bob\'s calls or voicemail (403), and a POST without the CSRF token is 403', async () => {
    assert.equal((await carol.request.get(`${portalUrl}/api/cdrs?account=bob%40${DOMAIN}`)).status(), 403);
    assert.equal((await carol.request.get(`${portalUrl}/api/cdrs?user=bob`)).status(), 403);
    assert.equal((await carol.request.get(`${portalUrl}/api/voicemail/bob%40${DOMAIN}`)).status(), 403);
    assert.equal((await carol.request.get(`${portalUrl}/voicemail/bob%40${DOMAIN}/1.wav`)).status(), 403);
    assert.equal((await carol.request.get(`${portalUrl}/api/subscribers`)).status(), 403);
    const noToken = await carol.request.post(`${portalUrl}/me/forwarding`, { form: { callfwd: 'sip:mallory@evil.example' } });
    assert.equal(noToken.status(), 403);
    const wrongToken = await carol.request.post(`${portalUrl}/api/me/forwarding`, { data: { callfwd: 'sip:mallory@evil.example' }, headers: { 'x-csrf-token': 'x'.repeat(43) } });
    assert.equal(wrongToken.status(), 403);
    const rows = await adminQuery<{ value: string }[]>("SELECT value FROM usr_preferences WHERE username = 'carol' AND attribute = 'callfwd'", [], db.name);
    assert.deepEqual(rows.map((x) => x.value), [`sip:bob@${DOMAIN}`]);
  });

  it('carol changes her password: SIPp registers with the new one, the old one gets 401 again', async () => {
    await carol.goto(`${portalUrl}/me/password`);
    await submitForm(carol, '/me/password', { 'Current password': CAROL_PW, 'New password': CAROL_PW2 });
    assert.match(await carol.locator('main').innerText(), /Password changed/);
    const ok = await registerPhone(lab, proxy, { user: 'carol', password: CAROL_PW2, contactPort: carolPort });
    assertSippOk([ok]);
    assert.deepEqual(finals(ok, 'REGISTER'), [401, 200]);
    const old = await registerPhone(lab, proxy, { user: 'carol', password: CAROL_PW, contactPort: carolPort });
    assert.deepEqual(finals(old, 'REGISTER'), [401, 401], explain([old]));
  });

  it('sign-up: the account is created disabled, the mailed link enables it, and then it registers', async () => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(`${portalUrl}/signup`);
    await shot(page, 'signup');
    await submitForm(page, '/signup', { 'User name': 'dave', 'E-mail address': 'dave@mail.example', 'SIP password': 'dave-secret-1' }, { Domain: DOMAIN });
    assert.match(await page.locator('main').innerText(), /Check your e-mail/);
    const before = await registerPhone(lab, proxy, { user: 'dave', password: 'dave-secret-1', contactPort: davePort });
    assert.deepEqual(finals(before, 'REGISTER'), [401, 401], `an unconfirmed sign-up registered\n${explain([before])}`);

    const mail = await waitFor('the confirmation mail', () => smtp.mails.find((m) => m.to === 'dave@mail.example'));
    // Quoted-printable may wrap the link: undo soft line breaks before looking for it.
    const text = mail.text.replace(/=\r?\n/g, '').replace(/=3D/g, '=');
    const link = /(http:\/\/[^\s]+\/signup\/confirm\?token=[A-Za-z0-9_-]{43})/.exec(text)?.[1];
    assert.ok(link, `no confirmation link in the mail:\n${text}`);
    await page.goto(link);
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Activate my account' }).click()]);
    assert.match(await page.locator('main').innerText(), /dave@example\.com is active/);
    const after = await registerPhone(lab, proxy, { user: 'dave', password: 'dave-secret-1', contactPort: davePort });
    assertSippOk([after]);
    assert.deepEqual(finals(after, 'REGISTER'), [401, 200]);
    // The link works once.
    const again = await page.request.post(`${portalUrl}/api/signup/confirm`, { data: { token: /token=([A-Za-z0-9_-]{43})/.exec(link)![1] } });
    assert.equal(again.status(), 404);
    await ctx.close();
  });

  it('an administrator disables dave: his bindings go, REGISTER gets 401; enabled again, 200', async () => {
    assert.equal((await fetch(`${proxy.adminUrl}/location/dave@${DOMAIN}`)).status, 200);
    await admin.goto(`${portalUrl}/admin/subscribers/dave%40${DOMAIN}`);
    await Promise.all([admin.waitForNavigation(), admin.getByRole('button', { name: 'Disable', exact: true }).click()]);
    assert.match(await admin.locator('main').innerText(), /State\s+disabled/);
    assert.equal((await fetch(`${proxy.adminUrl}/location/dave@${DOMAIN}`)).status, 404);
    const off = await registerPhone(lab, proxy, { user: 'dave', password: 'dave-secret-1', contactPort: davePort });
    assert.deepEqual(finals(off, 'REGISTER'), [401, 401], explain([off]));
    await Promise.all([admin.waitForNavigation(), admin.getByRole('button', { name: 'Enable', exact: true }).click()]);
    const on = await registerPhone(lab, proxy, { user: 'dave', password: 'dave-secret-1', contactPort: davePort });
    assertSippOk([on]);
    assert.deepEqual(finals(on, 'REGISTER'), [401, 200]);
  });

  it('SQL and HTML metacharacters in every field are stored and shown verbatim', async () => {
    await admin.goto(`${portalUrl}/admin/subscribers`);
    await submitForm(admin, '/admin/subscribers', { 'User name': NASTY_USER, Domain: DOMAIN, 'SIP password': `pw'";--<>`, 'E-mail address (optional)': NASTY_EMAIL });
    const detail = await admin.locator('main').innerText();
    assert.ok(detail.includes(`${NASTY_USER}@${DOMAIN}`), detail);
    assert.ok(detail.includes(NASTY_EMAIL), detail);
    await admin.goto(`${portalUrl}/admin/speeddials`);
    await submitForm(admin, '/admin/speeddials', { User: NASTY_USER, Domain: DOMAIN, 'Short number': '7', 'Target URI': `sip:bob@${DOMAIN}`, Description: NASTY_TEXT });
    assert.ok((await admin.locator('main').innerText()).includes(NASTY_TEXT));
    await admin.goto(`${portalUrl}/admin/subscribers?q=${encodeURIComponent("o'hara")}`);
    const list = await admin.locator('main').innerText();
    assert.ok(list.includes(NASTY_USER) && list.includes(NASTY_EMAIL), list);
    assert.equal(await admin.evaluate(() => (globalThis as unknown as { __xss?: number }).__xss), undefined);
    const rows = await adminQuery<{ username: string; email_address: string }[]>('SELECT username, email_address FROM subscriber WHERE username = ?', [NASTY_USER], db.name);
    assert.deepEqual(rows.map((r) => [r.username, r.email_address]), [[NASTY_USER, NASTY_EMAIL]]);
    const sd = await adminQuery<{ description: string }[]>('SELECT description FROM speed_dial WHERE username = ?', [NASTY_USER], db.name);
    assert.deepEqual(sd.map((r) => r.description), [NASTY_TEXT]);
    await admin.goto(`${portalUrl}/admin/online`);
    await shot(admin, 'online');
    await admin.goto(`${portalUrl}/admin/cdrs`);
    await shot(admin, 'cdrs');
  });

  it('sign-in is throttled after repeated failures (429), and counted in /metrics', async () => {
    const ctx = await browser.newContext();
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await ctx.request.post(`${portalUrl}/api/login`, { data: { user: 'mallory', password: `guess-${i}` } });
      statuses.push(r.status());
    }
    assert.deepEqual(statuses, [401, 401, 401, 401, 401, 429]);
    // The account is locked whatever the password: the right one does not get through either.
    assert.equal((await ctx.request.post(`${portalUrl}/api/login`, { data: { user: ADMIN.user, password: ADMIN.password } })).status(), 429);
    const metrics = await (await ctx.request.get(`${portalUrl}/metrics`)).text();
    assert.match(metrics, /voip_portal_sign_ins_total\{result="throttled"\} [1-9]/);
    await ctx.close();
    assert.ok(portal.alive(), `voip-portal died:\n${portal.logTail()}`);
  });
});
