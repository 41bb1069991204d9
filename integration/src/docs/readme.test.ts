/**
 * Every command block of README.md, run as a new user runs it, on a fresh checkout: the files
 * `git ls-files` names (tracked, plus new files not ignored: in CI, a fresh clone is exactly
 * that) copied into a temporary directory without node_modules or dist. So `npm ci` must link
 * the workspace's commands before anything is built (committed bin entry files), and `npx
 * sipctl` must run ours, never a registry package.
 *
 * The commands run verbatim in that directory (bash -c), with two exceptions that keep the test
 * from touching what is not its own: the MySQL database `voip` becomes a unique name dropped at
 * the end, and when 5060 is taken on this machine (a system Kamailio, the compose lab) the SIP
 * port becomes a free one (`npm start -- --port N`, the fallback README gives). npm uses its
 * cache first (prefer-offline). Commands
 * that serve until Ctrl-C (`npm start`, `npx sip-proxy`) must print their ready line, then stop
 * on SIGINT and free the port. `npm test` is not run: it is the runner of this very test, and
 * CI runs it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { allocatePort, isPortFree, ManagedProcess, repoRoot, runToCompletion } from '../harness/index.js';
import { adminQuery } from '../mysql/mysql-database.js';

export interface ReadmeCommand {
  /** 1-based line in README.md. */
  line: number;
  command: string;
}

/** Commands of the ```sh / ```bash blocks, one per line, without trailing `# comments`. */
export function readmeCommands(markdown: string): ReadmeCommand[] {
  const out: ReadmeCommand[] = [];
  let inBlock = false;
  markdown.split('\n').forEach((text, i) => {
    if (/^```/.test(text)) {
      inBlock = !inBlock && /^```(sh|bash|shell)\s*$/.test(text);
      return;
    }
    if (!inBlock) return;
    const command = text.replace(/\s+#.*$/, '').trim();
    if (command !== '' && !command.startsWith('#')) out.push({ line: i + 1, command });
  });
  return out;
}

/** Commands that serve until Ctrl-C, with the line that says they are ready. */
const SERVERS: { re: RegExp; ready: RegExp }[] = [
  { re: /^npm start\b/, ready: /Ctrl-C stops everything\./ },
  { re: /^npx sip-proxy\b/, ready: /listening on udp:/ },
];
const COMMANDS = ['sip-proxy', 'sipctl', 'rtp-relay', 'radius-acct', 'voicemail-bridge'];

/** The working tree as a fresh clone has it: `git ls-files` (cached + untracked, not ignored). */
async function freshCheckout(into: string): Promise<number> {
  const r = await runToCompletion('git', ['-C', repoRoot, 'ls-files', '-z', '--cached', '--others', '--exclude-standard'], 30_000);
  assert.equal(r.code, 0, r.stderr);
  let copied = 0;
  for (const f of r.stdout.split('\0')) {
    const from = join(repoRoot, f);
    // A file deleted in the working tree is still in the index until committed.
    if (f === '' || !existsSync(from) || !statSync(from).isFile()) continue;
    mkdirSync(dirname(join(into, f)), { recursive: true });
    copyFileSync(from, join(into, f));
    copied++;
  }
  return copied;
}

describe('README.md: every command block works verbatim on a fresh checkout', () => {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const commands = readmeCommands(readme);
  const dir = mkdtempSync(join(tmpdir(), 'voip-readme-'));
  const database = `voip_readme_${process.pid}_${randomBytes(3).toString('hex')}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    // This node first, for npm and npx too; npm's cache first, no audit, no fund messages.
    PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`,
    npm_config_prefer_offline: 'true',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
  };
  let sipPort = 5060;
  let runs = 0;

  /** README's command with this run's database name and, when 5060 is taken now, SIP port. */
  async function adapt(command: string): Promise<string> {
    if (/^npm start$|:5060\b/.test(command)) sipPort = (await isPortFree(5060)) ? 5060 : await allocatePort();
    let c = command.replace(/(mysql:\/\/[^\s/]+\/)voip\b/g, `$1${database}`).replace(/\bDATABASE IF NOT EXISTS voip\b/g, `DATABASE IF NOT EXISTS ${database}`);
    if (sipPort !== 5060) c = c.replace(/:5060\b/g, `:${sipPort}`).replace(/^npm start$/, `npm start -- --port ${sipPort}`);
    return c;
  }

  async function launch(command: string): Promise<ManagedProcess> {
    return ManagedProcess.launch({ name: `readme-${++runs}`, command: 'bash', args: ['-c', command], cwd: dir, env, logFile: join(dir, `.readme-${runs}.log`) });
  }

  before(async () => {
    assert.ok(commands.length >= 5, 'README.md has no command blocks');
    assert.ok((await freshCheckout(dir)) > 100);
    assert.ok(!existsSync(join(dir, 'node_modules')) && !existsSync(join(dir, 'services', 'proxy', 'dist')));
  });

  after(async () => {
    await adminQuery(`DROP DATABASE IF EXISTS \`${database}\``).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  for (const { line, command } of commands) {
    if (command === 'npm test') {
      it(`README.md:${line}: ${command} (CI runs it; it runs this test)`, () => {
        assert.match(readFileSync(join(repoRoot, '.ci', 'run'), 'utf8'), /^npm test$/m);
      });
      continue;
    }
    const server = SERVERS.find((s) => s.re.test(command));
    it(`README.md:${line}: ${command}`, { timeout: 10 * 60_000 }, async () => {
      const c = await adapt(command);
      const proc = await launch(c);
      if (server === undefined) {
        const exit = await proc.waitForExit(9 * 60_000);
        assert.deepEqual(exit, { code: 0, signal: null }, `${c}\n${proc.outputTail()}`);
      } else {
        await proc.waitForOutput(server.ready, 5 * 60_000);
        // Ctrl-C: the terminal signals the whole foreground process group.
        proc.killGroup('SIGINT');
        const exit = await proc.waitForExit(20_000);
        assert.ok(exit.signal === null || exit.signal === 'SIGINT', `${c}: ${JSON.stringify(exit)}\n${proc.outputTail()}`);
        assert.ok(await isPortFree(sipPort), `${c}: SIP port ${sipPort} still bound after Ctrl-C\n${proc.outputTail()}`);
      }
      if (command === 'npm ci') {
        // npm links every command of the workspace, to the checkout's own committed entry files.
        for (const name of COMMANDS) {
          const bin = join(dir, 'node_modules', '.bin', name);
          assert.ok(existsSync(bin), `npm ci did not link ${name}`);
          assert.ok(realpathSync(bin).startsWith(realpathSync(dir)), `${name} -> ${realpathSync(bin)}`);
        }
        // Before a build they say what to do instead of failing obscurely.
        if (!existsSync(join(dir, 'services', 'proxy', 'dist'))) {
          const early = await launch('npx sipctl --help');
          const exit = await early.waitForExit(60_000);
          assert.equal(exit.code, 1);
          assert.match(early.outputTail(), /sipctl: .*dist\/cli\/sipctl\.js is missing: run `npm run build` first/);
        }
      }
    });
  }
});
