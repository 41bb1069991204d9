/**
 * Client of the proxy's admin HTTP API (services/proxy/src/admin): live bindings for
 * `ul show|rm|add` and `online`, counters for `monitor`. The URL is the one sip-proxy prints at
 * start-up ("admin API http://127.0.0.1:PORT"), given as --proxy-admin or SIP_PROXY_ADMIN.
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

export class AdminClient {
  private readonly base: string;

  constructor(url: string | undefined) {
    if (!url) throw new CliError('this command talks to a running proxy: give --proxy-admin URL (or SIP_PROXY_ADMIN)', 2);
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new CliError(`--proxy-admin must be an http:// URL, got "${url.slice(0, 80)}"`, 2);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new CliError(`--proxy-admin must be an http:// URL, got "${url.slice(0, 80)}"`, 2);
    this.base = u.toString().replace(/\/$/, '');
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

  async stats(): Promise<Record<string, number>> {
    const r = await this.call<Record<string, number>>('GET', '/stats');
    if (r.status !== 200) throw AdminClient.failure(r.status, r.data, 'reading counters');
    return r.data;
  }
}
