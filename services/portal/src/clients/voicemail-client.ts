/**
 * voicemail-bridge's HTTP API: GET /mailboxes/{user@domain}/messages, GET …/messages/{id}.wav,
 * DELETE …/messages/{id}. The portal proxies the WAV to the browser (same origin, behind the
 * portal's own session check) instead of exposing the bridge's API to users.
 */
import { PortalError } from '../errors.js';

export interface VoicemailMessage {
  id: string;
  caller: string;
  callerName: string | null;
  receivedAt: string;
  duration: number;
  folder: string;
}

const TIMEOUT_MS = 10_000;
/** The bridge's message ids; anything else is refused before it reaches a URL. */
export const MESSAGE_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;

export class VoicemailClient {
  constructor(private readonly base: string | undefined) {}

  get configured(): boolean {
    return this.base !== undefined;
  }

  private url(mailbox: string, rest: string): string {
    if (this.base === undefined) throw new PortalError('PORTAL_ERR_UPSTREAM', 'no voicemailUrl configured');
    return `${this.base}/mailboxes/${encodeURIComponent(mailbox)}/messages${rest}`;
  }

  private async fetch(url: string, init: RequestInit = {}): Promise<Response> {
    try {
      return await fetch(url, { ...init, signal: AbortSignal.timeout(TIMEOUT_MS) });
    } catch (err) {
      throw new PortalError('PORTAL_ERR_UPSTREAM', `voicemail API: ${(err as Error).message}`);
    }
  }

  async list(mailbox: string): Promise<VoicemailMessage[]> {
    if (this.base === undefined) return [];
    const res = await this.fetch(this.url(mailbox, ''));
    if (res.status === 404) return [];
    if (!res.ok) throw new PortalError('PORTAL_ERR_UPSTREAM', `voicemail API answered ${res.status}`);
    const body = (await res.json()) as unknown;
    if (!Array.isArray(body)) return [];
    return body.map((m: Record<string, unknown>) => ({
      id: String(m.id),
      caller: String(m.caller ?? ''),
      callerName: m.caller_name == null ? null : String(m.caller_name),
      receivedAt: String(m.received_at ?? ''),
      duration: Number(m.duration_s ?? 0),
      folder: String(m.folder ?? ''),
    }));
  }

  /** The WAV bytes, or null when there is no such message. */
  async audio(mailbox: string, id: string): Promise<Buffer | null> {
    if (!MESSAGE_ID_RE.test(id)) return null;
    const res = await this.fetch(this.url(mailbox, `/${id}.wav`));
    if (res.status === 404) return null;
    if (!res.ok) throw new PortalError('PORTAL_ERR_UPSTREAM', `voicemail API answered ${res.status}`);
    return Buffer.from(await res.arrayBuffer());
  }

  async remove(mailbox: string, id: string): Promise<boolean> {
    if (!MESSAGE_ID_RE.test(id)) return false;
    const res = await this.fetch(this.url(mailbox, `/${id}`), { method: 'DELETE' });
    if (res.status === 404) return false;
    if (!res.ok) throw new PortalError('PORTAL_ERR_UPSTREAM', `voicemail API answered ${res.status}`);
    return true;
  }
}
