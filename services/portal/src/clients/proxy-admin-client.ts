/**
 * The running proxy's admin API (services/proxy/src/admin): the reloads that make a database
 * change take effect at once (as `sipctl` does: domain, permissions, lcr, dialplan, preferences),
 * live bindings for the online-users and devices pages, and dropping a disabled user's bindings.
 */
import { PortalError } from '../errors.js';

export type ReloadKind = 'domain' | 'permissions' | 'lcr' | 'dialplan' | 'preferences';

export interface OnlineBinding {
  aor: string;
  contact: string;
  expires: number;
  userAgent: string;
  received: string | null;
  socket: string | null;
  lastModified: string;
}

const TIMEOUT_MS = 5_000;

export class ProxyAdminClient {
  constructor(private readonly base: string | undefined) {}

  get configured(): boolean {
    return this.base !== undefined;
  }

  private async call(method: string, path: string): Promise<{ status: number; body: unknown }> {
    if (this.base === undefined) throw new PortalError('PORTAL_ERR_UPSTREAM', 'no proxyAdminUrl configured');
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, { method, signal: AbortSignal.timeout(TIMEOUT_MS) });
    } catch (err) {
      throw new PortalError('PORTAL_ERR_UPSTREAM', `proxy admin API ${this.base}: ${(err as Error).message}`);
    }
    const text = await res.text();
    let body: unknown;
    try {
      body = text === '' ? null : JSON.parse(text);
    } catch {
      body = text;
    }
    return { status: res.status, body };
  }

  /** Makes the proxy re-read what changed; a proxy without that table (404) is not an error. */
  async reload(kind: ReloadKind): Promise<void> {
    if (this.base === undefined) return;
    const r = await this.call('POST', `/${kind}/reload`);
    if (r.status >= 400 && r.status !== 404) throw new PortalError('PORTAL_ERR_UPSTREAM', `proxy ${kind} reload answered ${r.status}`);
  }

  async bindings(aor?: string): Promise<OnlineBinding[]> {
    if (this.base === undefined) return [];
    const r = await this.call('GET', aor === undefined ? '/location' : `/location/${encodeURIComponent(aor)}`);
    if (r.status === 404) return [];
    if (r.status !== 200) throw new PortalError('PORTAL_ERR_UPSTREAM', `proxy /location answered ${r.status}`);
    const list = (r.body as { bindings?: unknown }).bindings;
    if (!Array.isArray(list)) return [];
    return list.map((b: Record<string, unknown>) => ({
      aor: String(b.aor ?? ''),
      contact: String(b.contact ?? ''),
      expires: Number(b.expires ?? 0),
      userAgent: String(b.userAgent ?? ''),
      received: b.received == null ? null : String(b.received),
      socket: b.socket == null ? null : String(b.socket),
      lastModified: String(b.lastModified ?? ''),
    }));
  }

  async removeBindings(aor: string): Promise<void> {
    if (this.base === undefined) return;
    const r = await this.call('DELETE', `/location/${encodeURIComponent(aor)}`);
    if (r.status >= 400 && r.status !== 404) throw new PortalError('PORTAL_ERR_UPSTREAM', `proxy DELETE /location answered ${r.status}`);
  }
}
