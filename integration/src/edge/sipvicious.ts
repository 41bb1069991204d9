/**
 * The real sipvicious (Debian's 0.3.3: /usr/bin/svwar, /usr/bin/svcrack, python3) run against a
 * proxy, its printed results parsed. Both tools print their findings as a table on stdout
 *
 *   +-----------+----------------+
 *   | Extension | Authentication |
 *   +===========+================+
 *   | alice     | reqauth        |
 *   +-----------+----------------+
 *
 * (svcrack: `Extension | Password`) and log to stderr (`WARNING:root:found nothing` when the
 * table would be empty). Run with -vv so the log also says what the tool concluded on the way
 * (`Bad user = <status line>`: the answer it takes for a missing extension; `No server
 * response`). Notes from the 0.3.3 sources:
 *  - both always send `User-Agent: friendly-scanner` (svhelper.makeRequest), which the proxy's
 *    secfilter drops by default;
 *  - svwar compares only the status line of each answer with the one for a random extension,
 *    and stops scanning at the first answer equal to it that is not a 404; without --force it
 *    stops before scanning when a random extension is challenged;
 *  - -b is parsed but never passed to the socket: the tools send from the wildcard address, so
 *    towards a loopback proxy from 127.0.0.1; -P picks the local port (5060 by default);
 *  - session state goes to ~/.sipvicious only with -s/--resume; HOME is a temp directory anyway.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runToCompletion } from '../harness/index.js';

export interface SipviciousRun {
  /** Rows of the result table: first column → second column (svwar: extension → reqauth/noauth/weird; svcrack: extension → password). */
  readonly found: ReadonlyMap<string, string>;
  /** svwar's answer for a surely missing extension (its status line), when it got one. */
  readonly baseline: string | null;
  /** The tool got no answer at all to its first request. */
  readonly noResponse: boolean;
  readonly stdout: string;
  readonly stderr: string;
}

/** The rows of a sipvicious (pptable) result table, header row left out. */
export function parseTable(stdout: string): Map<string, string> {
  const rows = new Map<string, string>();
  let header = true;
  for (const line of stdout.split('\n')) {
    const t = line.trim();
    if (!t.startsWith('|') || !t.endsWith('|')) continue;
    const cells = t.slice(1, -1).split('|').map((c) => c.trim());
    if (cells.length !== 2) continue;
    if (header) {
      header = false;
      continue;
    }
    rows.set(cells[0]!, cells[1]!);
  }
  return rows;
}

function parseRun(stdout: string, stderr: string): SipviciousRun {
  // The debug line (`Bad user = SIP/2.0 401 Unauthorized`) comes before svwar's warning that
  // repeats the status code alone.
  const baseline = /Bad user = (SIP\/2\.0 \d{3}.*)$/m.exec(stderr)?.[1]?.replace(/ *- svwar will probably not work!$/, '').trim() ?? null;
  return {
    found: parseTable(stdout),
    baseline,
    // svcrack: `no server response`; svwar's first recvfrom timing out is caught as a socket
    // error (socket.timeout is an OSError): `socket error: timed out`.
    noResponse: /no server response|socket error: timed out/i.test(stderr),
    stdout,
    stderr,
  };
}

interface Common {
  /** Where the proxy listens (IPv4). */
  host: string;
  port: number;
  /** Local UDP port the tool binds (-P). */
  localPort: number;
  /** Domain written in the requests (--domain). */
  domain: string;
  /** Scratch directory: the word list and HOME. */
  dir: string;
  timeoutMs?: number;
}

async function run(tool: 'svwar' | 'svcrack', args: readonly string[], o: Common): Promise<SipviciousRun> {
  const r = await runToCompletion(tool, ['-vv', '--domain', o.domain, '-P', String(o.localPort), '-p', String(o.port), ...args, o.host], o.timeoutMs ?? 60_000, { ...process.env, HOME: o.dir });
  if (r.code !== 0) throw new Error(`${tool} exited ${r.code ?? r.signal}\n${r.stdout}\n${r.stderr}`);
  return parseRun(r.stdout, r.stderr);
}

/** `svwar -d <extensions> -m METHOD [--force]`: the extensions it reports as existing. */
export function svwar(o: Common & { extensions: readonly string[]; method: 'REGISTER' | 'INVITE' | 'OPTIONS'; force: boolean }): Promise<SipviciousRun> {
  const list = join(o.dir, `svwar-${o.method}.txt`);
  writeFileSync(list, `${o.extensions.join('\n')}\n`);
  return run('svwar', ['-d', list, '-m', o.method, ...(o.force ? ['--force'] : [])], o);
}

/** `svcrack -u USER -d <passwords>`: the cracked password, if any. */
export function svcrack(o: Common & { user: string; passwords: readonly string[] }): Promise<SipviciousRun> {
  const list = join(o.dir, `svcrack-${o.user}.txt`);
  writeFileSync(list, `${o.passwords.join('\n')}\n`);
  return run('svcrack', ['-u', o.user, '-d', list], o);
}
