/** The SIPp command line both backends use, so a scenario behaves the same everywhere. */
import { join } from 'node:path';
import { scenarioPath } from './paths.js';
import type { SippOptions } from './backend.js';

export interface SippFiles {
  messageFile: string;
  errorFile: string;
}

export function sippFiles(runDir: string): SippFiles {
  return { messageFile: join(runDir, 'messages.log'), errorFile: join(runDir, 'errors.log') };
}

export function sippArgs(opts: SippOptions, host: string, localPort: number, files: SippFiles): string[] {
  const args: string[] = [];
  if (opts.remote !== undefined) args.push(opts.remote);
  args.push(
    '-sf', scenarioPath(opts.scenario),
    // One socket per SIPp: over TCP the proxy sees one connection (t1), as a phone would.
    '-t', opts.transport === 'tcp' ? 't1' : 'u1',
    '-i', host,
    '-p', String(localPort),
    '-m', String(opts.calls ?? 1),
    '-trace_msg', '-message_file', files.messageFile,
    '-trace_err', '-error_file', files.errorFile,
    '-nostdin',
    // Global timeout: a lost message ends the run as a failure instead of hanging the test.
    '-timeout', `${Math.ceil((opts.timeoutMs ?? 30_000) / 1000)}s`,
    '-timeout_error',
    '-buff_size', '1048576',
  );
  for (const [k, v] of Object.entries(opts.keys ?? {})) args.push('-key', k, String(v));
  if (opts.extraArgs) args.push(...opts.extraArgs);
  return args;
}
