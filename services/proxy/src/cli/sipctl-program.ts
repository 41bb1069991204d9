/**
 * sipctl: the book's openserctl for this proxy. Subscribers, aliases, ACL groups, domains,
 * preferences and the provider route's tables (trusted peers, address groups, LCR gateways and
 * rules, speed dials, dial plan; provider-commands.ts) live in the database (--db URL or
 * SIP_DB_URL, the same URL sip-proxy runs with). Live bindings, counters, OPTIONS pings and
 * the reloads that apply a change at once go to the running proxy: --proxy-admin URL, else
 * SIP_PROXY_ADMIN, else the URL sip-proxy wrote to `admin-url` in its state directory
 * (admin-url-file.ts; --state-dir or SIP_PROXY_STATE_DIR, as sip-proxy reads it).
 *
 * Human output by default, --json for scripts. Every error ends the run with a non-zero status
 * and one line on stderr: 1 operation failed, 2 usage, 3 not found.
 */
import { Command, CommanderError, Option } from 'commander';
import { parseDbUrl } from '@voip/storage';
import { subscriberHashes } from '@voip/storage';
import { assertSchema, openStorage } from '@voip/storage';
import { StorageError } from '@voip/storage';
import { PROVIDER_TABLE_VERSIONS, REQUIRED_TABLE_VERSIONS, type Storage } from '@voip/storage';
import { formatAccount, parseAccount, parseDomain } from './account.js';
import { AdminClient, StaleAdminFileError, type ReloadKind } from './admin-client.js';
import { adminUrlDirs, AdminUrlFileError, readAdminUrlFile } from './admin-url-file.js';
import { CliError } from './cli-error.js';
import { Output, type CliIo } from './output.js';
import { checkForwardingPreference, registerProviderCommands, reportChange } from './provider-commands.js';
import { sipPing } from './sip-ping.js';

export const SIPCTL_VERSION = '0.1.0';

/** What `db init` leaves and `db check` wants: the chapter-5 tables and the provider route's. */
const ALL_TABLES = [...Object.keys(REQUIRED_TABLE_VERSIONS), ...Object.keys(PROVIDER_TABLE_VERSIONS)];

interface GlobalOptions {
  db?: string;
  proxyAdmin?: string;
  stateDir?: string;
  json?: boolean;
}

/** Where the admin URL came from: given (--proxy-admin, SIP_PROXY_ADMIN) or a proxy's admin-url file. */
interface AdminTarget {
  url: string;
  file: string | null;
}

/** Per-run state: the output and, once a command needs it, the database. */
class Session {
  private storage: Storage | null = null;
  private target: AdminTarget | null | undefined = undefined;

  constructor(
    readonly program: Command,
    readonly io: CliIo,
    readonly env: NodeJS.ProcessEnv,
  ) {}

  private get opts(): GlobalOptions {
    return this.program.opts<GlobalOptions>();
  }

  get out(): Output {
    return new Output(this.io, this.opts.json === true);
  }

  async db(): Promise<Storage> {
    if (this.storage) return this.storage;
    const url = this.opts.db ?? this.env.SIP_DB_URL;
    if (!url) throw new CliError('no database: give --db mysql://USER:PASS@HOST:PORT/DB (or SIP_DB_URL)', 2);
    if (parseDbUrl(url).kind !== 'mysql') throw new CliError('sipctl edits a MySQL database; --db must be a mysql:// URL', 2);
    this.storage = await openStorage(url, { connectAttempts: 3, initialBackoffMs: 200 });
    return this.storage;
  }

  /**
   * The running proxy's admin API: --proxy-admin > SIP_PROXY_ADMIN > the admin-url file in the
   * proxy's state directory; null when none is given and no proxy left its URL.
   */
  private adminTarget(): AdminTarget | null {
    if (this.target !== undefined) return this.target;
    const given = this.opts.proxyAdmin ?? this.env.SIP_PROXY_ADMIN;
    if (given) {
      this.target = { url: given, file: null };
    } else {
      try {
        const r = readAdminUrlFile(adminUrlDirs(this.opts.stateDir ?? this.env.SIP_PROXY_STATE_DIR));
        this.target = r === null ? null : { url: r.url, file: r.path };
      } catch (err) {
        if (err instanceof AdminUrlFileError) throw new CliError(err.message, 1);
        throw err;
      }
    }
    return this.target;
  }

  admin(): AdminClient {
    const t = this.adminTarget();
    return new AdminClient(t?.url, t?.file ?? null);
  }

  /** Tells a running proxy to reload its domains, when one is found; else it reloads on its own. */
  async reloadDomainsIfProxy(): Promise<string> {
    if (this.adminTarget() === null) return 'the proxy picks it up at its next domain reload';
    try {
      const n = await this.admin().reloadDomains();
      return `the proxy reloaded its domains (${n})`;
    } catch (err) {
      if (err instanceof StaleAdminFileError) return `no proxy is running at ${err.url} (stale ${err.file}); a proxy loads it when it starts`;
      throw err;
    }
  }

  /**
   * After a change that is stored (`done`), tells a running proxy to re-read that kind of data
   * when one was named; without one it picks the change up at its next periodic reload. A
   * failed reload is reported with what was already stored, so the operator knows not to redo it.
   */
  async reloadIfProxy(kind: ReloadKind, done: string): Promise<{ message: string; reloaded: number | null }> {
    if (this.adminTarget() === null) return { message: `${done} (the proxy picks it up at its next periodic reload)`, reloaded: null };
    try {
      const n = await this.admin().reload(kind);
      return { message: `${done} (the proxy reloaded ${RELOAD_WHAT[kind]}: ${n})`, reloaded: n };
    } catch (err) {
      // The proxy that left its URL is gone: nothing runs to reload, the next one loads the change at its start.
      if (err instanceof StaleAdminFileError) return { message: `${done} (no proxy is running at ${err.url}, stale ${err.file}; a proxy loads it when it starts)`, reloaded: null };
      // Exit 1 whatever the API said (even 404): the change itself was found and stored.
      if (err instanceof CliError) throw new CliError(`${done}, but the proxy did not reload: ${err.message}`, 1);
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.storage?.close();
  }
}

const RELOAD_WHAT: Readonly<Record<ReloadKind, string>> = {
  permissions: 'its trusted peers and address groups',
  lcr: 'its gateways and LCR rules',
  dialplan: 'its dial plan',
  preferences: 'its preference caches',
};

function intArg(v: string, name: string, min: number, max: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new CliError(`${name} must be an integer ${min}..${max}`, 2);
  return n;
}

function checkPassword(p: string): string {
  if (p.length === 0 || p.length > 64) throw new CliError('password must be 1..64 characters', 2);
  return p;
}

function register(program: Command, s: Session): void {
  // ----------------------------------------------------------------- subscribers
  program
    .command('add')
    .description('add a subscriber (stores the password and its HA1 values ha1/ha1b)')
    .argument('<user@domain>')
    .argument('<password>')
    .argument('[email]')
    .option('--no-plaintext', 'store only ha1/ha1b, not the password (MD5 digest only then)')
    .action(async (account: string, password: string, email: string | undefined, o: { plaintext: boolean }) => {
      const a = parseAccount(account);
      checkPassword(password);
      if (email !== undefined && (email.length > 128 || !/^[^\s@]+@[^\s@]+$/.test(email))) throw new CliError(`invalid e-mail address "${email.slice(0, 80)}"`, 2);
      const db = await s.db();
      await db.subscribers.add({ ...a, password: o.plaintext ? password : '', ...subscriberHashes(a.username, a.domain, password), emailAddress: email ?? null });
      s.out.result(`added subscriber ${formatAccount(a)}`, { added: { ...a, email: email ?? null } });
    });

  program
    .command('passwd')
    .description("change a subscriber's password")
    .argument('<user@domain>')
    .argument('<password>')
    .option('--no-plaintext', 'store only ha1/ha1b')
    .action(async (account: string, password: string, o: { plaintext: boolean }) => {
      const a = parseAccount(account);
      checkPassword(password);
      const db = await s.db();
      const h = subscriberHashes(a.username, a.domain, password);
      if (!(await db.subscribers.setCredentials(a.username, a.domain, o.plaintext ? password : '', h.ha1, h.ha1b))) {
        throw new CliError(`no subscriber ${formatAccount(a)}`, 3);
      }
      s.out.result(`password of ${formatAccount(a)} changed`, { changed: a });
    });

  program
    .command('rm')
    .description('remove a subscriber (with its aliases, groups and preferences)')
    .argument('<user@domain>')
    .action(async (account: string) => {
      const a = parseAccount(account);
      const db = await s.db();
      if (!(await db.subscribers.remove(a.username, a.domain))) throw new CliError(`no subscriber ${formatAccount(a)}`, 3);
      let aliases = 0;
      for (const al of await db.aliases.list(a)) aliases += await db.aliases.remove(al.aliasUsername, al.aliasDomain);
      const groups = await db.groups.revoke(a.username, a.domain);
      const prefs = await db.preferences.remove(a.username, a.domain);
      s.out.result(`removed subscriber ${formatAccount(a)} (${aliases} aliases, ${groups} groups, ${prefs} preferences)`, { removed: a, aliases, groups, preferences: prefs });
    });

  program
    .command('list')
    .description('list subscribers, optionally of one domain')
    .argument('[domain]')
    .action(async (domain: string | undefined) => {
      const db = await s.db();
      const list = await db.subscribers.list(domain === undefined ? undefined : parseDomain(domain));
      s.out.table(
        ['SUBSCRIBER', 'EMAIL', 'PASSWORD'],
        list.map((x) => [formatAccount(x), x.emailAddress || null, x.password ? 'plaintext' : 'ha1 only']),
        { subscribers: list.map((x) => ({ username: x.username, domain: x.domain, email: x.emailAddress, plaintext: x.password !== '' })) },
      );
    });

  // ----------------------------------------------------------------- aliases
  const alias = program.command('alias').description('aliases of subscribers (dbaliases: lookup("aliases"))');
  alias
    .command('add')
    .argument('<alias@domain>')
    .argument('<user@domain>')
    .action(async (al: string, target: string) => {
      const a = parseAccount(al, 'alias');
      const t = parseAccount(target, 'target');
      const db = await s.db();
      await db.aliases.add({ aliasUsername: a.username, aliasDomain: a.domain, username: t.username, domain: t.domain });
      s.out.result(`alias ${formatAccount(a)} -> ${formatAccount(t)} added`, { added: { alias: formatAccount(a), target: formatAccount(t) } });
    });
  alias
    .command('rm')
    .argument('<alias@domain>')
    .action(async (al: string) => {
      const a = parseAccount(al, 'alias');
      const db = await s.db();
      const n = await db.aliases.remove(a.username, a.domain);
      if (n === 0) throw new CliError(`no alias ${formatAccount(a)}`, 3);
      s.out.result(`alias ${formatAccount(a)} removed`, { removed: formatAccount(a), rows: n });
    });
  alias
    .command('list')
    .description('all aliases, or those of one subscriber')
    .argument('[user@domain]')
    .action(async (target: string | undefined) => {
      const db = await s.db();
      const rows = await db.aliases.list(target === undefined ? undefined : parseAccount(target));
      const view = rows.map((r) => ({ alias: `${r.aliasUsername}@${r.aliasDomain}`, target: `${r.username}@${r.domain}` }));
      s.out.table(['ALIAS', 'TARGET'], view.map((v) => [v.alias, v.target]), { aliases: view });
    });
  alias
    .command('show')
    .description('where an alias points')
    .argument('<alias@domain>')
    .action(async (al: string) => {
      const a = parseAccount(al, 'alias');
      const db = await s.db();
      const rows = await db.aliases.resolve(a.username, a.domain);
      if (rows.length === 0) throw new CliError(`no alias ${formatAccount(a)}`, 3);
      const targets = rows.map((r) => `${r.username}@${r.domain}`);
      s.out.result(`${formatAccount(a)} -> ${targets.join(', ')}`, { alias: formatAccount(a), targets });
    });

  // ----------------------------------------------------------------- ACL groups
  const acl = program.command('acl').description('ACL groups of subscribers (grp: local, ld, int …)');
  acl
    .command('grant')
    .argument('<user@domain>')
    .argument('<group>')
    .action(async (account: string, group: string) => {
      const a = parseAccount(account);
      if (!/^[A-Za-z0-9_.-]{1,64}$/.test(group)) throw new CliError(`invalid group name "${group.slice(0, 80)}"`, 2);
      const db = await s.db();
      await db.groups.grant(a.username, a.domain, group);
      s.out.result(`${formatAccount(a)} granted ${group}`, { granted: { account: formatAccount(a), group } });
    });
  acl
    .command('revoke')
    .description('remove one group, or every group without <group>')
    .argument('<user@domain>')
    .argument('[group]')
    .action(async (account: string, group: string | undefined) => {
      const a = parseAccount(account);
      const db = await s.db();
      const n = await db.groups.revoke(a.username, a.domain, group);
      if (n === 0) throw new CliError(`${formatAccount(a)} is not in ${group === undefined ? 'any group' : `group ${group}`}`, 3);
      s.out.result(`${formatAccount(a)}: ${n} group(s) revoked`, { revoked: { account: formatAccount(a), group: group ?? null, rows: n } });
    });
  acl
    .command('show')
    .argument('[user@domain]')
    .action(async (account: string | undefined) => {
      const db = await s.db();
      const rows = await db.groups.list(account === undefined ? undefined : parseAccount(account));
      const view = rows.map((r) => ({ account: `${r.username}@${r.domain}`, group: r.grp }));
      s.out.table(['SUBSCRIBER', 'GROUP'], view.map((v) => [v.account, v.group]), { groups: view });
    });

  // ----------------------------------------------------------------- domains
  const domain = program.command('domain').description('SIP domains served (domain table: is_uri_host_local, is_from_local)');
  domain
    .command('add')
    .argument('<domain>')
    .action(async (d: string) => {
      const name = parseDomain(d);
      const db = await s.db();
      await db.domains.add(name);
      s.out.result(`domain ${name} added (${await s.reloadDomainsIfProxy()})`, { added: name });
    });
  domain
    .command('rm')
    .argument('<domain>')
    .action(async (d: string) => {
      const name = parseDomain(d);
      const db = await s.db();
      if (!(await db.domains.remove(name))) throw new CliError(`no domain ${name}`, 3);
      s.out.result(`domain ${name} removed (${await s.reloadDomainsIfProxy()})`, { removed: name });
    });
  domain.command('list').action(async () => {
    const db = await s.db();
    const rows = await db.domains.list();
    s.out.table(['DOMAIN', 'DID'], rows.map((r) => [r.domain, r.did]), { domains: rows.map((r) => ({ domain: r.domain, did: r.did })) });
  });

  // ----------------------------------------------------------------- preferences
  const avp = program.command('avp').description('user preferences (usr_preferences: callfwd, fwdbusy, fwdnoanswer, fwdnoanswer_timeout, …)');
  avp
    .command('add')
    .description('add a preference; the forwarding ones (callfwd, fwdbusy, fwdnoanswer, fwdnoanswer_timeout) replace the previous value')
    .argument('<user@domain>')
    .argument('<attribute>')
    .argument('<value>')
    .addOption(new Option('--type <type>', 'value type').choices(['str', 'int']).default('str'))
    .action(async (account: string, attribute: string, value: string, o: { type: string }) => {
      const a = parseAccount(account);
      if (!/^[A-Za-z0-9_.-]{1,32}$/.test(attribute)) throw new CliError(`invalid attribute name "${attribute.slice(0, 80)}"`, 2);
      if (value.length > 128) throw new CliError('value must be at most 128 characters', 2);
      if (o.type === 'int' && !/^-?\d{1,18}$/.test(value)) throw new CliError('--type int needs an integer value', 2);
      // The provider route's failure_route[1] reads these; a bad value would only show up as a
      // failed forward, so it is refused here, and each holds one value (the route reads one).
      const forwardType = checkForwardingPreference(attribute, value);
      const type = forwardType ?? (o.type === 'int' ? 1 : 0);
      const db = await s.db();
      const replaced = forwardType === null ? 0 : await db.preferences.remove(a.username, a.domain, attribute);
      await db.preferences.add({ uuid: '', username: a.username, domain: a.domain, attribute, type, value });
      const done = `${formatAccount(a)}: ${attribute} = ${value}${replaced > 0 ? ' (replaced)' : ''}`;
      await reportChange(s, 'preferences', done, { added: { account: formatAccount(a), attribute, value, type: type === 1 ? 'int' : 'str' }, replaced });
    });
  avp
    .command('rm')
    .description('remove one attribute, or all without <attribute>')
    .argument('<user@domain>')
    .argument('[attribute]')
    .action(async (account: string, attribute: string | undefined) => {
      const a = parseAccount(account);
      const db = await s.db();
      const n = await db.preferences.remove(a.username, a.domain, attribute);
      if (n === 0) throw new CliError(`${formatAccount(a)} has no ${attribute === undefined ? 'preferences' : `preference ${attribute}`}`, 3);
      await reportChange(s, 'preferences', `${formatAccount(a)}: ${n} preference(s) removed`, { removed: { account: formatAccount(a), attribute: attribute ?? null, rows: n } });
    });
  avp
    .command('list')
    .argument('[user@domain]')
    .option('--attribute <name>', 'only this attribute')
    .action(async (account: string | undefined, o: { attribute?: string }) => {
      const a = account === undefined ? undefined : parseAccount(account);
      const db = await s.db();
      const rows = await db.preferences.list({ ...(a ?? {}), ...(o.attribute === undefined ? {} : { attribute: o.attribute }) });
      const view = rows.map((r) => ({ account: `${r.username}@${r.domain}`, attribute: r.attribute, type: r.type === 1 ? 'int' : 'str', value: r.value }));
      s.out.table(['SUBSCRIBER', 'ATTRIBUTE', 'TYPE', 'VALUE'], view.map((v) => [v.account, v.attribute, v.type, v.value]), { preferences: view });
    });

  // ----------------------------------------------------------------- provider route (ch. 7–8)
  registerProviderCommands(program, s);

  // ----------------------------------------------------------------- live state (admin API)
  const ul = program.command('ul').description('live registrations in the running proxy (usrloc)');
  ul.command('show')
    .argument('[aor]', 'user@domain; all bindings without it')
    .action(async (aor: string | undefined) => {
      const key = aor === undefined ? undefined : formatAccount(parseAccount(aor, 'AOR'));
      const list = await s.admin().bindings(key);
      if (key !== undefined && list.length === 0) throw new CliError(`no bindings for ${key}`, 3);
      s.out.table(
        ['AOR', 'CONTACT', 'EXPIRES', 'Q', 'USER-AGENT'],
        list.map((b) => [b.aor, b.contact, b.expires, b.q >= 0 ? b.q : null, b.userAgent || null]),
        { bindings: list },
      );
    });
  ul.command('rm')
    .argument('<aor>')
    .action(async (aor: string) => {
      const key = formatAccount(parseAccount(aor, 'AOR'));
      const n = await s.admin().removeAor(key);
      s.out.result(`${n} binding(s) of ${key} removed`, { removed: n, aor: key });
    });
  ul.command('add')
    .description('a static binding (a phone that cannot register, a gateway)')
    .argument('<aor>')
    .argument('<contact>')
    .argument('[expires]', 'seconds', '3600')
    .option('--q <q>', 'preference 0..1')
    .action(async (aor: string, contact: string, expires: string, o: { q?: string }) => {
      const key = formatAccount(parseAccount(aor, 'AOR'));
      const secs = intArg(expires, 'expires', 1, 31_536_000);
      let q: number | undefined;
      if (o.q !== undefined) {
        q = Number(o.q);
        if (!(q >= 0 && q <= 1)) throw new CliError('--q must be 0..1', 2);
      }
      await s.admin().addBinding(key, contact, secs, q);
      s.out.result(`${key} -> ${contact} for ${secs} s`, { added: { aor: key, contact, expires: secs, q: q ?? null } });
    });

  program
    .command('online')
    .description('subscribers with at least one live binding')
    .action(async () => {
      const list = await s.admin().bindings();
      const aors = [...new Set(list.map((b) => b.aor))].sort();
      s.out.result(aors.length === 0 ? '(nobody online)' : aors.join('\n'), { online: aors });
    });

  program
    .command('monitor')
    .description("the proxy's counters (requests, replies by class, transactions, contacts)")
    .option('--interval <seconds>', 'repeat every N seconds')
    .option('--count <n>', 'number of samples with --interval', '0')
    .action(async (o: { interval?: string; count: string }) => {
      const admin = s.admin();
      const every = o.interval === undefined ? 0 : intArg(o.interval, '--interval', 1, 3600);
      const count = intArg(o.count, '--count', 0, 1_000_000);
      for (let i = 0; ; i++) {
        const stats = await admin.stats();
        const keys = Object.keys(stats).sort();
        s.out.result(keys.map((k) => `${k.padEnd(28)} ${stats[k]}`).join('\n'), stats);
        if (every === 0 || (count > 0 && i + 1 >= count)) break;
        await new Promise((r) => setTimeout(r, every * 1000));
      }
    });

  program
    .command('ping')
    .description('send OPTIONS to a SIP URI and report the response')
    .argument('<uri>')
    .option('--timeout <ms>', 'give up after this many milliseconds', '5000')
    .action(async (uri: string, o: { timeout: string }) => {
      const r = await sipPing(uri, intArg(o.timeout, '--timeout', 100, 120_000));
      s.out.result(`${r.status} ${r.reason} from ${r.destination} in ${r.rttMs.toFixed(1)} ms${r.server ? ` (${r.server})` : ''}`, r);
      if (r.status >= 300) throw new CliError(`${r.uri} answered ${r.status} ${r.reason}`);
    });

  // ----------------------------------------------------------------- database
  const db = program.command('db').description('database schema (Kamailio 5.6 tables)');
  db.command('init')
    .description('create the tables (missing ones only: a kamdbctl-created database is completed)')
    .action(async () => {
      const storage = await s.db();
      const r = await storage.initSchema();
      await assertSchema(storage, ALL_TABLES);
      const lines = [
        `schema ready in ${storage.description}`,
        `  created: ${r.created.length ? r.created.join(', ') : '(none)'}`,
        `  already there: ${r.existing.length ? r.existing.join(', ') : '(none)'}`,
      ];
      if (r.altered.length) lines.push(`  columns added: ${r.altered.join(', ')}`);
      s.out.result(lines.join('\n'), r);
    });
  db.command('check')
    .description('check that the tables and versions the proxy needs are present (provider route included)')
    .action(async () => {
      const storage = await s.db();
      await assertSchema(storage, ALL_TABLES);
      const v = await storage.versions();
      s.out.result(`schema OK in ${storage.description}`, { ok: true, versions: Object.fromEntries(v) });
    });
}

function oneLine(err: unknown): { message: string; code: number } {
  if (err instanceof CliError) return { message: err.message, code: err.exitCode };
  if (err instanceof StorageError) return { message: err.message, code: err.code === 'STORAGE_ERR_DUPLICATE' ? 1 : err.code === 'STORAGE_ERR_BAD_URL' ? 2 : 1 };
  return { message: (err as Error).message ?? String(err), code: 1 };
}

/** Runs sipctl with `argv` (without node and script); resolves with the exit status. */
export async function runSipctl(argv: readonly string[], io: CliIo, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const program = new Command()
    .name('sipctl')
    .description("Admin tool of the SIP proxy (the book's openserctl)")
    .version(SIPCTL_VERSION)
    .option('--db <url>', 'database, mysql://USER:PASS@HOST:PORT/DB (default: SIP_DB_URL)')
    .option('--proxy-admin <url>', "running proxy's admin API, http://HOST:PORT (default: SIP_PROXY_ADMIN, else the URL sip-proxy wrote to its state directory)")
    .option('--state-dir <dir>', "sip-proxy's state directory, where it writes admin-url (default: SIP_PROXY_STATE_DIR, else /var/lib/sip-proxy, else ./.sip-proxy)")
    .option('--json', 'machine-readable output')
    .exitOverride()
    .configureOutput({
      writeOut: (t) => io.out(t),
      // Commander's own messages (usage errors) are reduced to their first line below.
      writeErr: () => undefined,
    });
  const session = new Session(program, io, env);
  register(program, session);
  // Subcommands copy the settings of their parent only when created through it before these
  // calls; set them on every level explicitly.
  const walk = (c: Command): void => {
    for (const sub of c.commands) {
      sub.exitOverride().configureOutput({ writeOut: (t) => io.out(t), writeErr: () => undefined });
      walk(sub);
    }
  };
  walk(program);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return 0; // --help, --version
      io.err(`sipctl: ${err.message.replace(/^error: /, '').split('\n')[0]}\n`);
      return 2;
    }
    const { message, code } = oneLine(err);
    io.err(`sipctl: ${message.split('\n')[0]}\n`);
    return code;
  } finally {
    await session.close().catch(() => undefined);
  }
}
