/**
 * Client of the proxy's admin HTTP API (services/proxy/src/admin): live bindings for
 * `ul show|rm|add` and `online`, counters for `monitor`, and the reloads that make a database
 * change take effect at once (domains, permissions, LCR, dial plan, preferences). The URL is the
 * one sip-proxy prints at start-up ("admin API http://127.0.0.1:PORT"), given as --proxy-admin
 * or SIP_PROXY_ADMIN, else read from the admin-url file sip-proxy keeps in its state directory
 * (admin-url-file.ts).
 */
import { CliError } from './cli-error.js';

export interface AdminBinding {
  aor: string;
  contact: string;
  expires: number;
  q: number;
  callId: string;
  cseq: number;
  userAgent: string;
  received: string | null;
  socket: string | null;
  ruid: string;
  lastModified: string;
}

const TIMEOUT_MS = 5_000;

/**
 * What a provisioning change makes the proxy re-read, and the endpoint that does it (each
 * answers `{ "reloaded": <rows> }`): like Kamailio's `permissions.trustedReload` /
 * `permissions.addressReload`, `lcr.reload`, `dialplan.reload` RPCs; `preferences` flushes the
 * proxy's short-TTL usr_preferences and speed_dial caches.
 */
export const RELOAD_PATHS = {
  permissions: '/permissions/reload',
  lcr: '/lcr/reload',
  dialplan: '/dialplan/reload',
  preferences: '/preferences/reload',
} as const;
export type ReloadKind = keyof typeof RELOAD_PATHS;

/**
 * The admin URL came from a proxy's admin-url file and nothing listens there: the proxy that
 * wrote it is gone (killed, crashed) and left the file behind. A stored change is then loaded
 * by the next proxy at its start; a command that needs live state has nothing to ask.
 */
export class StaleAdminFileError extends CliError {
  constructor(
    readonly url: string,
    readonly file: string,
  ) {
    super(`no proxy answers at ${url}, named in ${file} (stale: its proxy is gone); start sip-proxy, or give --proxy-admin URL`, 1);
  }
}

export class AdminClient {
  private readonly base: string;
  /** The admin-url file the URL was read from; null when given as --proxy-admin / SIP_PROXY_ADMIN. */
  private readonly file: string | null;

  constructor(url: string | undefined, file: string | null = null) {
    if (!url) {
      throw new CliError('this command talks to a running proxy: none found in its state directory (--state-dir or SIP_PROXY_STATE_DIR); give --proxy-admin URL (or SIP_PROXY_ADMIN)', 2);
    }
    const what = file === null ? '--proxy-admin' : `the admin URL in ${file}`;
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new CliError(`${what} must be an http:// URL, got "${url.slice(0, 80)}"`, 2);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new CliError(`${what} must be an http:// URL, got "${url.slice(0, 80)}"`, 2);
    this.base = u.toString().replace(/\/$/, '');
    this.file = file;
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; data: T }> {
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (err) {
      const c = (err as { cause?: { code?: string; message?: string } }).cause;
      const cause = c?.code ?? c?.message ?? (err as Error).message;
      // Refused = nothing listens on that port any more; a timeout is a proxy that hangs, reported as such.
      if (this.file !== null && c?.code === 'ECONNREFUSED') throw new StaleAdminFileError(this.base, this.file);
      throw new CliError(`cannot reach the proxy admin API at ${this.base}: ${cause}`);
    }
    const text = await res.text();
    let data: unknown;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      throw new CliError(`the proxy admin API answered ${res.status} with non-JSON content`);
    }
    return { status: res.status, data: data as T };
  }

  private static failure(status: number, data: unknown, what: string): CliError {
    const msg = (data as { error?: unknown; message?: unknown } | null)?.error ?? (data as { message?: unknown } | null)?.message;
    return new CliError(`${what}: ${typeof msg === 'string' ? msg : `HTTP ${status}`}`, status === 404 ? 3 : 1);
  }

  async bindings(aor?: string): Promise<AdminBinding[]> {
    const path = aor === undefined ? '/location' : `/location/${encodeURIComponent(aor)}`;
    const r = await this.call<{ bindings: AdminBinding[] }>('GET', path);
    if (r.status === 404 && aor !== undefined) return [];
    if (r.status !== 200) throw AdminClient.failure(r.status, r.data, 'listing bindings');
    return r.data.bindings;
  }

  async removeAor(aor: string): Promise<number> {
    const r = await this.call<{ removed: number }>('DELETE', `/location/${encodeURIComponent(aor)}`);
    if (r.status !== 200) throw AdminClient.failure(r.status, r.data, `removing bindings of ${aor}`);
    return r.data.removed;
  }

  async addBinding(aor: string, contact: string, expires: number, q: number | undefined): Promise<void> {
    const r = await this.call('POST', '/location', { aor, contact, expires, ...(q === undefined ? {} : { q }) });
    if (r.status !== 201 && r.status !== 200) throw AdminClient.failure(r.status, r.data, `adding a binding for ${aor}`);
  }

  /** Makes the proxy re-read the domain table now; returns how many domains it serves. */
  async reloadDomains(): Promise<number> {
    const r = await this.call<{ domains: number }>('POST', '/domain/reload');
    if (r.status !== 200) throw AdminClient.failure(r.status, r.data, 'reloading domains');
    return r.data.domains;
  }

  /** Makes the proxy re-read one kind of provisioning data now; returns the rows it holds afterwards. */
  async reload(kind: ReloadKind): Promise<number> {
    const r = await this.call<{ reloaded?: unknown }>('POST', RELOAD_PATHS[kind]);
    if (r.status !== 200) throw AdminClient.failure(r.status, r.data, `reloading ${kind}`);
    const n = r.data?.reloaded;
    if (typeof n !== 'number') throw new CliError(`reloading ${kind}: the proxy admin API answered without a "reloaded" count`);
    return n;
  }

  async reloadPermissions(): Promise<number> {
    return this.reload('permissions');
  }

  async reloadLcr(): Promise<number> {
    return this.reload('lcr');
  }

  async reloadDialplan(): Promise<number> {
    return this.reload('dialplan');
  }

  async reloadPreferences(): Promise<number> {
    return this.reload('preferences');
  }

  async stats(): Promise<Record<string, number>> {
    const r = await this.call<Record<string, number>>('GET', '/stats');
    if (r.status !== 200) throw AdminClient.failure(r.status, r.data, 'reading counters');
    return r.data;
  }
}
