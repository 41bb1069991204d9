/**
 * nathelper: NAT detection and the signalling fixes of Kamailio's nathelper module
 * (`nat_uac_test`, `force_rport`, `fix_nated_contact`, `fix_nated_register`). The tests are
 * chosen by name in the config and compiled to a bit set at init (STYLE.md §5).
 */
import { NameAddr, SipUri, parseContacts, type MessageSource } from '@voip/sip';
import type { ReplyContext, RequestContext } from '../../core/route-context.js';
import { FLAG_NAT_RECEIVED, hasSdp, type NatApi } from '../../routing/nat-sub-routes.js';
import { isPrivateAddress, sameIp } from './address-class.js';

/** The tests of `nat_uac_test`, by Kamailio's flag values. */
export const NAT_TESTS = {
  /** 1: the Contact names a private/shared address (RFC 1918, RFC 6598, link-local, ULA). */
  'contact-private': 1,
  /** 2: the top Via's sent-by address differs from the packet's source address. */
  'via-received': 2,
  /** 4: the top Via's sent-by is a private/shared address. */
  'via-private': 4,
  /** 8: the SDP connection address is private/shared. */
  'sdp-private': 8,
  /** 16: the source port differs from the Via's sent-by port (or 5060) — RFC 3581 rport case. */
  'via-port': 16,
} as const;

export type NatTest = keyof typeof NAT_TESTS;

/** Kamailio's default `nat_uac_test("19")`: contact-private, via-received, via-port. */
export const DEFAULT_NAT_TESTS: readonly NatTest[] = ['contact-private', 'via-received', 'via-port'];

export function natTestMask(tests: readonly NatTest[]): number {
  let m = 0;
  for (const t of tests) m |= NAT_TESTS[t];
  return m;
}

function defaultPort(protocol: string): number {
  return protocol === 'TLS' || protocol === 'WSS' ? 5061 : 5060;
}

/** The `received` URI of a source: `sip:IP:PORT;transport=udp` (Kamailio's location.received). */
export function receivedUri(source: MessageSource): string {
  const host = source.address.includes(':') ? `[${source.address}]` : source.address;
  return `sip:${host}:${source.port};transport=${source.protocol.toLowerCase()}`;
}

/** The c= addresses of an SDP body (session and media level), scanned line by line. */
function sdpConnectionAddresses(body: Buffer): string[] {
  const out: string[] = [];
  // Bounded: SDP is at most the SIP message size; lines are split, never matched by regex.
  for (const line of body.toString('latin1').split('\n')) {
    if (!line.startsWith('c=')) continue;
    const parts = line.trim().split(' ');
    if (parts.length >= 3) out.push(parts[2]!.split('/')[0]!);
  }
  return out;
}

function contactHosts(values: string[]): SipUri[] {
  if (values.length === 0) return [];
  const parsed = parseContacts(values);
  if (!('star' in parsed) || parsed.star) return [];
  const out: SipUri[] = [];
  for (const c of parsed.contacts) if (c.uri instanceof SipUri) out.push(c.uri);
  return out;
}

export class NatHelper implements NatApi {
  constructor(private readonly mask: number) {}

  natUacTest(ctx: RequestContext): boolean {
    const req = ctx.request;
    const src = ctx.source;
    const via = req.vias[0];
    const m = this.mask;
    if (via !== undefined) {
      const sentBy = via.hostNoBrackets();
      if (m & NAT_TESTS['via-received'] && !sameIp(sentBy, src.address)) return true;
      if (m & NAT_TESTS['via-private'] && isPrivateAddress(sentBy)) return true;
      if (m & NAT_TESTS['via-port'] && (via.port ?? defaultPort(via.transport.toUpperCase())) !== src.port) return true;
    }
    if (m & NAT_TESTS['contact-private']) {
      for (const u of contactHosts(req.headers.values('contact'))) if (isPrivateAddress(u.host)) return true;
    }
    if (m & NAT_TESTS['sdp-private'] && hasSdp(req)) {
      for (const a of sdpConnectionAddresses(req.body)) if (isPrivateAddress(a)) return true;
    }
    return false;
  }

  forceRport(ctx: RequestContext): void {
    // RFC 3581 §4 as if the UA had asked: answer the source port, not the sent-by port.
    const req = ctx.request;
    const via = req.vias[0];
    if (via === undefined) return;
    via.params.set('rport', String(ctx.source.port));
    via.params.set('received', ctx.source.address);
    req.replaceTopVia(via);
  }

  fixNatedContact(ctx: RequestContext): void {
    rewriteContact(ctx.request.headers, ctx.source.address, ctx.source.port);
  }

  fixNatedRegister(ctx: RequestContext): void {
    ctx.flags.add(FLAG_NAT_RECEIVED);
  }

  replyIsNated(ctx: ReplyContext): boolean {
    for (const u of contactHosts(ctx.response.headers.values('contact'))) if (isPrivateAddress(u.host)) return true;
    return false;
  }

  fixNatedReplyContact(ctx: ReplyContext): void {
    const src = ctx.source;
    if (src === null) return;
    rewriteContact(ctx.response.headers, src.address, src.port);
  }
}

/**
 * fix_nated_contact: the first Contact's host and port become the source address, so requests
 * inside the dialog reach the NAT binding; the other URI parameters stay (Kamailio does the same).
 */
function rewriteContact(headers: { values(n: string): string[]; set(n: string, v: string): void }, address: string, port: number): void {
  const values = headers.values('contact');
  if (values.length === 0) return;
  const parsed = parseContacts(values);
  if (!('star' in parsed) || parsed.star) return;
  const first = parsed.contacts[0]!;
  if (!(first.uri instanceof SipUri)) return;
  const uri = first.uri.clone();
  uri.host = address.includes(':') ? `[${address}]` : address;
  uri.port = port;
  const fixed = new NameAddr(uri, first.displayName, first.params);
  const rest = parsed.contacts.slice(1).map((c) => c.toString());
  headers.set('Contact', [fixed.toString(), ...rest].join(', '));
}
