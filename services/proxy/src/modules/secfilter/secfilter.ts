/**
 * secfilter: requests from known scanners are dropped silently, like Kamailio's secfilter
 * module (`secf_check_ua`) and the sipvicious rules every provider config carries. A scanner
 * that gets no answer cannot map the server, enumerate users or crack passwords; it also
 * cannot tell whether a proxy is there at all. Matching is a case-insensitive substring of
 * User-Agent against the configured list, compiled once at init (STYLE.md §5).
 */
import type { Logger, MessageSource, SipRequest } from '@voip/sip';
import type { RequestFilter } from '../../core/request-filter.js';

export const name = 'secfilter';

export interface SecfilterSettings {
  enabled: boolean;
  userAgents: readonly string[];
}

/** User-Agent values longer than this are only searched in their first part. */
const MAX_UA_SCAN = 256;

export class Secfilter implements RequestFilter {
  private readonly patterns: string[];
  private readonly log: Logger;
  /** Metrics. */
  dropped = 0;

  constructor(settings: SecfilterSettings, logger: Logger) {
    this.patterns = settings.userAgents.map((p) => p.toLowerCase());
    this.log = logger.child({ layer: 'proxy.secfilter' });
  }

  /** The pattern `userAgent` matches, or null. */
  match(userAgent: string): string | null {
    const ua = userAgent.slice(0, MAX_UA_SCAN).toLowerCase();
    for (const p of this.patterns) if (ua.includes(p)) return p;
    return null;
  }

  admitRequest(req: SipRequest, source: MessageSource): boolean {
    const ua = req.headers.get('user-agent');
    if (ua === undefined) return true;
    const hit = this.match(ua);
    if (hit === null) return true;
    this.dropped++;
    // Debug only: a scan is thousands of packets; pike logs the source once if it floods.
    this.log.debug({ event: 'scanner-dropped', ip: source.address, pattern: hit, method: req.method }, 'scanner user agent dropped');
    return false;
  }

  admitSource(): boolean {
    return true;
  }

  metrics(): Record<string, number> {
    return { secfilter_dropped: this.dropped };
  }
}

export function init(deps: { settings: SecfilterSettings; logger: Logger }): Secfilter {
  return new Secfilter(deps.settings, deps.logger);
}
