/**
 * aliases module (alias_db): `lookup("aliases")` against the dbaliases table — the book's
 * "8590@domain is flavio@domain". Allowed in request and failure routes.
 *
 * Parameters: appendBranches (alias_db's append_branches: extra targets of a multi-row alias
 * become parallel branches; default only the first row is used). Dependencies: AliasRepository.
 */
import { SipUri, type Logger } from '@voip/sip';
import type { FailureContext, RequestContext } from '../../core/route-context.js';
import type { AliasApi } from '../../routing/ch5-modules-api.js';
import type { AliasRepository, AliasRow } from '@voip/storage';

export const name = 'aliases';

export interface AliasSettings {
  appendBranches: boolean;
}

export function init(deps: { settings: AliasSettings; aliases: AliasRepository; logger: Logger }): AliasApi {
  return new AliasModule(deps.settings, deps.aliases, deps.logger);
}

/** The alias target as a SIP URI: user and host replaced, port and parameters of the alias dropped. */
function targetUri(from: SipUri, row: AliasRow): SipUri {
  return new SipUri({ scheme: from.scheme, user: row.username, host: row.domain });
}

class AliasModule implements AliasApi {
  private readonly log: Logger;

  constructor(
    private readonly s: AliasSettings,
    private readonly repo: AliasRepository,
    logger: Logger,
  ) {
    this.log = logger.child({ layer: 'proxy.aliases' });
  }

  async lookup(ctx: RequestContext | FailureContext): Promise<boolean> {
    const uri = ctx.request.uri;
    if (!(uri instanceof SipUri) || uri.user === null) return false;
    const rows = await this.repo.resolve(uri.user, uri.hostNoBrackets().toLowerCase());
    if (rows.length === 0) return false;
    ctx.request.uri = targetUri(uri, rows[0]!);
    if (this.s.appendBranches) for (let i = 1; i < rows.length; i++) ctx.targets.push({ uri: targetUri(uri, rows[i]!) });
    this.log.debug({ callId: ctx.request.callId, alias: `${uri.user}@${uri.host}`, target: ctx.request.uri.toString() }, 'alias resolved');
    return true;
  }
}
