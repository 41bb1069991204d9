/**
 * registrar module: REGISTER processing (RFC 3261 §10.3, flows of RFC 3665 §2) over the
 * LocationStore, and `lookup("location")`. Allowed routes: save in request routes; lookup in
 * request and failure routes. Parameters: minExpires, maxExpires, defaultExpires, maxContacts.
 */
import { randomUUID } from 'node:crypto';
import { NameAddr, SipUri, parseContacts, parseUri, uriEquals, type SipRequest, type Uri } from '@voip/sip';
import { PROXY_ERRORS } from '../../errors.js';
import type { FailureContext, RequestContext } from '../../core/route-context.js';
import type { RegistrarApi } from '../../routing/modules-api.js';
import { FLAG_NAT_DST, FLAG_NAT_RECEIVED } from '../../routing/nat-sub-routes.js';
import { BINDING_FLAG_NAT, BINDING_FLAG_NAT_PING, type Binding } from '../location/binding.js';
import type { LocationStore } from '../location/location-store.js';

export const name = 'registrar';

export interface RegistrarSettings {
  minExpires: number;
  maxExpires: number;
  defaultExpires: number;
  maxContacts: number;
  /**
   * Expires cap (s) for bindings registered over UDP from behind a NAT (fix_nated_register),
   * so the phone refreshes before its NAT mapping closes; 0 = no cap (keepalives keep it open).
   */
  natUdpMaxExpires?: number;
}

export function init(deps: { settings: RegistrarSettings; location: LocationStore; now?: () => number }): RegistrarApi {
  return new Registrar(deps.settings, deps.location, deps.now ?? Date.now);
}

/** Canonical AOR of a SIP URI: user@host with the host lowercased (§10.3 step 5). */
export function aorOf(uri: Uri): string | null {
  if (!(uri instanceof SipUri)) return null;
  const host = uri.host.toLowerCase();
  return uri.user === null ? host : `${uri.user}@${host}`;
}

interface ContactChange {
  contact: NameAddr;
  uri: Uri;
  expires: number;
  existing: Binding | undefined;
}

type Outcome = { ok: true; changes: ContactChange[] } | { ok: false; status: number; reason: string; extra?: [string, string][] };

function parseDelta(v: string | null | undefined): number | null | 'invalid' {
  if (v === null || v === undefined) return null;
  const t = v.trim();
  if (!/^\d{1,10}$/.test(t)) return 'invalid';
  return Math.min(Number(t), 2 ** 32 - 1);
}

function parseQ(v: string | null | undefined): number {
  if (v === null || v === undefined) return -1;
  const q = Number(v);
  return Number.isFinite(q) && q >= 0 && q <= 1 ? q : -1;
}

class Registrar implements RegistrarApi {
  constructor(
    private readonly s: RegistrarSettings,
    private readonly location: LocationStore,
    private readonly now: () => number,
  ) {}

  save(ctx: RequestContext): void {
    const req = ctx.request;
    const aor = aorOf(req.to.uri);
    if (aor === null) {
      // §10.3 step 3: an AOR that is not valid for the domain is answered 404.
      ctx.reply(PROXY_ERRORS.SIP_ERR_NOT_FOUND.status, PROXY_ERRORS.SIP_ERR_NOT_FOUND.reason);
      return;
    }
    // fix_nated_register(): keep the Contact as sent, remember where the REGISTER came from.
    const nated = ctx.flags.has(FLAG_NAT_RECEIVED);
    const cap = nated && ctx.source.protocol === 'UDP' ? (this.s.natUdpMaxExpires ?? 0) : 0;
    const outcome = this.plan(req, aor, cap);
    if (!outcome.ok) {
      ctx.reply(outcome.status, outcome.reason, outcome.extra);
      return;
    }
    this.apply(req, aor, outcome.changes, ctx.source, nated);
    ctx.reply(200, 'OK', this.bindingHeaders(aor));
  }

  /** Validates the whole request before touching the store: a REGISTER applies atomically. */
  private plan(req: SipRequest, aor: string, natCap: number): Outcome {
    const contactValues = req.headers.values('contact');
    const headerExpires = parseDelta(req.headers.get('expires'));
    if (headerExpires === 'invalid') return { ok: false, status: 400, reason: 'Bad Request - Invalid Expires' };
    // §10.3 step 6 (RFC 3665 §2.3): no Contact is a query; answer the current bindings.
    if (contactValues.length === 0) return { ok: true, changes: [] };
    const parsed = parseContacts(contactValues);
    if (!('star' in parsed)) return { ok: false, ...PROXY_ERRORS.SIP_ERR_INVALID_CONTACT };
    const existing = this.location.bindingsOf(aor);
    const callId = req.callId;
    const cseq = req.cseq.seq;
    if (parsed.star) {
      // §10.3 step 6: "*" only with Expires: 0 and no other Contact.
      if (headerExpires !== 0 || contactValues.length !== 1) {
        return { ok: false, status: 400, reason: 'Bad Request - Contact * requires Expires: 0' };
      }
      const changes: ContactChange[] = [];
      for (const b of existing) {
        // §10.3 step 6: a binding with the same Call-ID is removed only for a higher CSeq.
        if (b.callId === callId && cseq <= b.cseq) continue;
        const uri = parseUri(b.contact);
        if (!('scheme' in uri)) continue;
        changes.push({ contact: new NameAddr(uri), uri, expires: 0, existing: b });
      }
      return { ok: true, changes };
    }
    const changes: ContactChange[] = [];
    let newCount = existing.length;
    for (const contact of parsed.contacts) {
      const param = parseDelta(contact.params.get('expires'));
      if (param === 'invalid') return { ok: false, status: 400, reason: 'Bad Request - Invalid Contact expires' };
      let expires = param ?? headerExpires ?? this.s.defaultExpires;
      // §10.3 step 7: too short (but non-zero) is refused with 423 and our minimum.
      if (expires > 0 && expires < this.s.minExpires) {
        const e = PROXY_ERRORS.SIP_ERR_INTERVAL_TOO_BRIEF;
        return { ok: false, status: e.status, reason: e.reason, extra: [['Min-Expires', String(this.s.minExpires)]] };
      }
      if (expires > this.s.maxExpires) expires = this.s.maxExpires;
      if (natCap > 0 && expires > natCap) expires = natCap;
      const match = existing.find((b) => {
        const u = parseUri(b.contact);
        return 'scheme' in u && uriEquals(u, contact.uri);
      });
      if (match && match.callId === callId && cseq <= match.cseq) {
        // §10.3 step 7: same Call-ID with a CSeq not above the stored one: the update is aborted.
        return { ok: false, ...PROXY_ERRORS.SIP_ERR_INVALID_CSEQ };
      }
      if (!match && expires > 0) newCount++;
      if (match && expires === 0) newCount--;
      changes.push({ contact, uri: contact.uri, expires, existing: match });
    }
    if (this.s.maxContacts > 0 && newCount > this.s.maxContacts) {
      return { ok: false, ...PROXY_ERRORS.SIP_ERR_TOO_MANY_CONTACTS };
    }
    return { ok: true, changes };
  }

  private apply(req: SipRequest, aor: string, changes: ContactChange[], source: RequestContext['source'], nated: boolean): void {
    const now = this.now();
    const callId = req.callId;
    const cseq = req.cseq.seq;
    const userAgent = req.headers.get('user-agent') ?? '';
    const path = req.headers.values('path');
    const socket = `${source.local.protocol.toLowerCase()}:${source.local.address}:${source.local.port}`;
    for (const c of changes) {
      if (c.expires === 0) {
        if (c.existing) this.location.remove(c.existing);
        continue;
      }
      const instance = c.contact.params.get('+sip.instance') ?? null;
      const regId = Number(c.contact.params.get('reg-id') ?? 0);
      this.location.upsert({
        ruid: c.existing?.ruid ?? randomUUID(),
        aor,
        contact: c.uri.toString(),
        // Kamailio's location.received: requests to this contact go to the NAT binding.
        received: nated ? receivedUri(source) : null,
        path: path.length > 0 ? path.join(',') : null,
        expires: now + c.expires * 1000,
        q: parseQ(c.contact.params.get('q')),
        callId,
        cseq,
        lastModified: now,
        flags: 0,
        cflags: nated ? BINDING_FLAG_NAT | BINDING_FLAG_NAT_PING : 0,
        userAgent,
        socket,
        methods: null,
        instance,
        regId: Number.isInteger(regId) ? regId : 0,
      });
    }
  }

  /** §10.3 step 8: the 200 lists every current binding with its remaining expiry, plus Date. */
  private bindingHeaders(aor: string): [string, string][] {
    const now = this.now();
    const out: [string, string][] = [];
    for (const b of this.location.lookup(aor)) {
      const remaining = Math.max(0, Math.round((b.expires - now) / 1000));
      const q = b.q >= 0 ? `;q=${b.q}` : '';
      out.push(['Contact', `<${b.contact}>;expires=${remaining}${q}`]);
    }
    out.push(['Date', new Date(now).toUTCString()]);
    return out;
  }

  lookup(ctx: RequestContext | FailureContext): boolean {
    const aor = aorOf(ctx.request.uri);
    if (aor === null) return false;
    const bindings = this.location.lookup(aor);
    let first = true;
    for (const b of bindings) {
      const uri = parseUri(b.contact);
      if (!('scheme' in uri)) continue;
      const received = b.received ? parseUri(b.received) : null;
      const nextHop = received && 'scheme' in received ? received : null;
      // lookup() loads the contact's branch flags: FLB_NATB tells the route the callee is NATed.
      if ((b.cflags & BINDING_FLAG_NAT) !== 0) ctx.flags.add(FLAG_NAT_DST);
      if (first) {
        ctx.request.uri = uri;
        ctx.nextHop = nextHop;
        first = false;
      } else {
        ctx.targets.push({ uri, nextHop, q: b.q });
      }
    }
    return !first;
  }
}

/** `sip:IP:PORT;transport=udp`: the source of a REGISTER as stored in location.received. */
function receivedUri(source: RequestContext['source']): string {
  const host = source.address.includes(':') ? `[${source.address}]` : source.address;
  return `sip:${host}:${source.port};transport=${source.protocol.toLowerCase()}`;
}
