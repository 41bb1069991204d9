/**
 * A throw-away Linux network namespace with only loopback up. Programs started inside it
 * can reach nothing but 127.0.0.1 of that namespace: a proxy fed hostile or foreign-domain
 * messages (RFC 4475 torture tests name 192.0.2.x and example.com hosts) cannot send a
 * single packet off the machine, and its DNS lookups fail at once. Needs root (CAP_SYS_ADMIN)
 * and iproute2. Deleted by destroy() and, as a last resort, when the test process exits.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { HarnessError } from './errors.js';

const live = new Set<string>();
let hookInstalled = false;

function deleteSync(name: string): void {
  try {
    execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
  } catch {
    // already gone
  }
  live.delete(name);
}

export class NetworkNamespace {
  private constructor(readonly name: string) {}

  static create(label: string): NetworkNamespace {
    const name = `voip-it-${label.replace(/[^a-z0-9]/gi, '').slice(0, 12)}-${randomBytes(3).toString('hex')}`;
    try {
      execFileSync('ip', ['netns', 'add', name], { stdio: ['ignore', 'ignore', 'pipe'] });
      live.add(name);
      execFileSync('ip', ['-n', name, 'link', 'set', 'lo', 'up'], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (err) {
      deleteSync(name);
      throw new HarnessError('HARNESS_ERR_BACKEND', `cannot create network namespace ${name} (root and iproute2 needed): ${(err as Error).message}`);
    }
    if (!hookInstalled) {
      hookInstalled = true;
      process.on('exit', () => {
        for (const n of [...live]) deleteSync(n);
      });
    }
    return new NetworkNamespace(name);
  }

  /** `command args` wrapped to run inside the namespace. */
  wrap(command: string, args: readonly string[]): { command: string; args: string[] } {
    return { command: 'ip', args: ['netns', 'exec', this.name, command, ...args] };
  }

  destroy(): void {
    deleteSync(this.name);
  }
}
