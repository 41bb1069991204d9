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
  /**
   * Where SUBSCRIBE `Event: message-summary` goes; absent = `uri`. With the Asterisk backend
   * `uri` is Asterisk (media) while the bridge answers the subscriptions (AMI MessageWaiting).
   */
  mwiUri?: string | undefined;
}

class VoicemailModule implements VoicemailApi {
  private readonly target: SipUri | null;
  private readonly mwiTarget: SipUri | null;

  constructor(private readonly s: VoicemailSettings) {
    this.target = s.uri === undefined ? null : sipTarget('voicemail.uri', s.uri);
    this.mwiTarget = s.mwiUri === undefined ? this.target : sipTarget('voicemail.mwiUri', s.mwiUri);
  }

  get configured(): boolean {
    return this.target !== null;
  }

  get mwiConfigured(): boolean {
    return this.mwiTarget !== null;
  }

  toMailbox(ctx: ForwardingContext, prefix: 'b' | 'u' | '', user: string): boolean {
    const t = this.target;
    if (t === null) return false;
    // rewritehostport: host and port (and the transport) of the voicemail server; the user part
    // is the callee's with the book's one-letter prefix.
    rewrite(ctx, t, `${prefix}${user}`);
    return true;
  }

  toMessageSummary(ctx: ForwardingContext, user: string): boolean {
    const t = this.mwiTarget;
    if (t === null) return false;
    rewrite(ctx, t, user);
    return true;
  }

  isMailboxAccess(ctx: RequestContext): boolean {
    const uri = ctx.request.uri;
    return this.target !== null && uri instanceof SipUri && uri.user === this.s.mailboxAccess;
  }
}

function sipTarget(key: string, text: string): SipUri {
  const parsed = SipUri.parse(text);
  if (!(parsed instanceof SipUri)) throw new Error(`${key} ${text} is not a SIP URI`);
  return parsed;
}

/** R-URI = sip:<user>@<server host:port;params>; the request is routed afresh from it. */
function rewrite(ctx: ForwardingContext, t: SipUri, user: string): void {
  ctx.request.uri = new SipUri({ scheme: t.scheme, user, host: t.host, port: t.port, params: t.params });
  ctx.nextHop = null;
  ctx.targets = [];
}

export function init(deps: { settings: VoicemailSettings }): VoicemailApi {
  return new VoicemailModule(deps.settings);
}
