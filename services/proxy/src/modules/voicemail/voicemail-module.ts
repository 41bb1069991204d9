/**
 * voicemail module: where the book's failure_route[1] and route[10] send a call that is busy,
 * unanswered or for a subscriber who is offline — `revert_uri(); prefix("b"|"u");
 * rewritehostport("<voicemail server>")` — made a configuration value instead of the book's
 * hard-coded 192.168.1.171. The mailbox server reads the first letter: `b<user>` plays the busy
 * greeting, `u<user>` the unavailable one, and `<user>` alone (the mailbox-access code `*98`)
 * lets the owner listen to their messages. Allowed in request and failure routes.
 */
import { SipUri } from '@voip/sip';
import type { ForwardingContext, RequestContext } from '../../core/route-context.js';
import type { VoicemailApi } from '../../routing/provider-modules-api.js';

export const name = 'voicemail';

export interface VoicemailSettings {
  /** sip:HOST:PORT of the voicemail server; absent = no voicemail (486/480 go to the caller). */
  uri?: string | undefined;
  /** What a local user dials to reach their own mailbox. */
  mailboxAccess: string;
}

class VoicemailModule implements VoicemailApi {
  private readonly target: SipUri | null;

  constructor(private readonly s: VoicemailSettings) {
    let target: SipUri | null = null;
    if (s.uri !== undefined) {
      const parsed = SipUri.parse(s.uri);
      if (!(parsed instanceof SipUri)) throw new Error(`voicemail.uri ${s.uri} is not a SIP URI`);
      target = parsed;
    }
    this.target = target;
  }

  get configured(): boolean {
    return this.target !== null;
  }

  toMailbox(ctx: ForwardingContext, prefix: 'b' | 'u' | '', user: string): boolean {
    const t = this.target;
    if (t === null) return false;
    // rewritehostport: host and port (and the transport) of the voicemail server; the user part
    // is the callee's with the book's one-letter prefix.
    ctx.request.uri = new SipUri({ scheme: t.scheme, user: `${prefix}${user}`, host: t.host, port: t.port, params: t.params });
    ctx.nextHop = null;
    ctx.targets = [];
    return true;
  }

  isMailboxAccess(ctx: RequestContext): boolean {
    const uri = ctx.request.uri;
    return this.target !== null && uri instanceof SipUri && uri.user === this.s.mailboxAccess;
  }
}

export function init(deps: { settings: VoicemailSettings }): VoicemailApi {
  return new VoicemailModule(deps.settings);
}
