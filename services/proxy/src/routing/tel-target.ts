/**
 * A `tel:` URI (RFC 3966) as a forwarding or speed-dial target: the number a user of our domain
 * would dial, `sip:<number>@<their domain>`, so it takes the path of a dialled number — the dial
 * plan (ACL group of the user whose target it is, normalisation to E.164) and LCR. RFC 3261
 * §19.1.6 maps a telephone number into the user part of a SIP URI the same way.
 */
import { SipUri, type TelUri } from '@voip/sip';

/** RFC 3966 §3 visual-separator: "-" / "." / "(" / ")" — layout only, not dialled. */
const VISUAL_SEPARATORS = /[-.()]/g;
/** What a dial plan can classify: an optional "+" (global number) then digits, `*`, `#`. */
const DIALLABLE = /^\+?[0-9*#]{1,32}$/;

/**
 * `tel:+1-212-555-0100` → `sip:+12125550100@<domain>`; a local number (`tel:5550100;
 * phone-context=…`) keeps its digits and is dialled as the user would dial it from `domain`
 * (its phone-context is not ours to reinterpret: the dial plan decides). Parameters are
 * dropped. Null for a number no dial plan can match (hex digits, over 32 characters).
 */
export function telTargetUri(tel: TelUri, domain: string): SipUri | null {
  const number = tel.number.replace(VISUAL_SEPARATORS, '');
  if (!DIALLABLE.test(number)) return null;
  // RFC 3261 §25.1: "#" is not unreserved in a user part; it travels escaped.
  return new SipUri({ scheme: 'sip', user: number.replace(/#/g, '%23'), host: domain });
}
