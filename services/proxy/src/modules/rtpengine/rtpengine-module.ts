/**
 * rtpengine module: anchors media on a relay (our rtp-relay or rtpengine) over the ng protocol,
 * as Kamailio's rtpengine module does with `rtpengine_offer/answer/delete`.
 *
 * Call-ID affinity: the relay chosen at the first offer serves the whole call (answers,
 * re-INVITEs, delete); the affinity map is also what tells in-dialog requests that the call is
 * anchored. Entries leave on delete, and after `affinityTtl` seconds without use (a call whose
 * BYE never passed us; the relay times such sessions out on its own).
 */
import { isIP } from 'node:net';
import type { BencodeDict, BencodeValue } from '@voip/ng';
import type { Logger, SipRequest, SipResponse } from '@voip/sip';
import type { FinalResponseEvent } from '../../core/route-context.js';
import type { MediaLeg, RtpengineApi } from '../../routing/nat-sub-routes.js';
import { NgRelaySet, NgTimeoutError, type NgRelay } from './ng-relay-set.js';

export const name = 'rtpengine';

export interface RtpengineSettings {
  /** `udp:IP:PORT` of each relay's ng socket. */
  relays: readonly string[];
  /** `nat`: anchor calls where either side is NATed; `always`: every call. */
  engage: 'nat' | 'always';
  /** ng flags sent with offer/answer (e.g. symmetric; trust-address is deliberately absent). */
  flags: readonly string[];
  /** ng "replace" list (origin, session-connection). */
  replace: readonly string[];
  /** ng "ICE" (remove, force, default). */
  ice: 'remove' | 'force' | 'default';
  /** Per-try ng timeout (ms) and tries per request. */
  timeout: number;
  tries: number;
  /** Seconds between ng pings to every relay; 0 = no health checks (timeouts still mark down). */
  pingInterval: number;
  /** Seconds an unused Call-ID affinity is kept. */
  affinityTtl: number;
}

interface Affinity {
  relay: NgRelay;
  touched: number;
}

export interface RtpengineModule extends RtpengineApi {
  readonly relaySet: NgRelaySet;
  /** Anchored calls known to this proxy (tests, admin). */
  readonly engagedCalls: number;
  close(): void;
}

export function init(deps: { settings: RtpengineSettings; logger: Logger; now?: () => number }): RtpengineModule {
  return new Rtpengine(deps.settings, deps.logger.child({ layer: 'proxy.rtpengine' }), deps.now ?? Date.now);
}

function addressFamily(ip: string): 'IP4' | 'IP6' {
  return isIP(ip) === 6 ? 'IP6' : 'IP4';
}

class Rtpengine implements RtpengineModule {
  readonly relaySet: NgRelaySet;
  readonly always: boolean;
  private readonly affinity = new Map<string, Affinity>();
  private readonly timer: NodeJS.Timeout | null;

  constructor(
    private readonly s: RtpengineSettings,
    private readonly log: Logger,
    private readonly now: () => number,
  ) {
    this.relaySet = new NgRelaySet({ relays: s.relays, timeoutMs: s.timeout, tries: s.tries, logger: log });
    this.always = s.engage === 'always';
    if (s.pingInterval > 0) {
      this.timer = setInterval(() => this.housekeeping(), s.pingInterval * 1000);
      this.timer.unref();
      void this.relaySet.ping();
    } else this.timer = null;
  }

  get engagedCalls(): number {
    return this.affinity.size;
  }

  private housekeeping(): void {
    void this.relaySet.ping();
    const limit = this.now() - this.s.affinityTtl * 1000;
    for (const [callId, a] of this.affinity) if (a.touched < limit) this.affinity.delete(callId);
  }

  isEngaged(callId: string): boolean {
    return this.affinity.has(callId);
  }

  engage(callId: string): void {
    if (this.affinity.has(callId)) return;
    const first = this.relaySet.candidates(callId)[0];
    if (first !== undefined) this.affinity.set(callId, { relay: first, touched: this.now() });
  }

  private params(msg: SipRequest | SipResponse, leg: MediaLeg): BencodeDict {
    const d: BencodeDict = {
      'call-id': leg.callId,
      'from-tag': leg.fromTag,
      sdp: msg.body.toString('utf8'),
      flags: [...this.s.flags],
      replace: [...this.s.replace],
    };
    if (leg.toTag !== null) d['to-tag'] = leg.toTag;
    if (this.s.ice !== 'default') d['ICE'] = this.s.ice;
    // Without trust-address the relay takes this as the media source until RTP latches.
    if (leg.receivedFrom !== null && isIP(leg.receivedFrom) !== 0) d['received-from'] = [addressFamily(leg.receivedFrom), leg.receivedFrom];
    return d;
  }

  private rewrite(msg: SipRequest | SipResponse, reply: BencodeDict): boolean {
    const sdp: BencodeValue | undefined = reply['sdp'];
    if (reply['result'] !== 'ok' || typeof sdp !== 'string') return false;
    msg.body = Buffer.from(sdp, 'utf8');
    return true;
  }

  async offer(msg: SipRequest | SipResponse, leg: MediaLeg): Promise<boolean> {
    const known = this.affinity.get(leg.callId);
    // A call already anchored stays on its relay (its session lives there); a new one fails over.
    const candidates = known !== undefined ? [known.relay] : this.relaySet.candidates(leg.callId);
    const params = this.params(msg, leg);
    for (const relay of candidates) {
      try {
        const reply = await this.relaySet.request(relay, 'offer', params);
        if (!this.rewrite(msg, reply)) {
          this.log.warn({ callId: leg.callId, relay: relay.url, reason: reply['error-reason'] }, 'ng offer refused');
          return false;
        }
        this.affinity.set(leg.callId, { relay, touched: this.now() });
        return true;
      } catch (err) {
        if (!(err instanceof NgTimeoutError)) throw err;
        this.log.warn({ callId: leg.callId, relay: relay.url }, 'ng offer timed out; trying the next relay');
      }
    }
    this.log.error({ callId: leg.callId }, 'no media relay answered the offer; media not anchored');
    return false;
  }

  async answer(msg: SipRequest | SipResponse, leg: MediaLeg): Promise<boolean> {
    const a = this.affinity.get(leg.callId);
    if (a === undefined) return false;
    a.touched = this.now();
    try {
      const reply = await this.relaySet.request(a.relay, 'answer', this.params(msg, leg));
      if (this.rewrite(msg, reply)) return true;
      this.log.warn({ callId: leg.callId, relay: a.relay.url, reason: reply['error-reason'] }, 'ng answer refused');
    } catch (err) {
      if (!(err instanceof NgTimeoutError)) throw err;
      this.log.error({ callId: leg.callId, relay: a.relay.url }, 'ng answer timed out; SDP passed as is');
    }
    return false;
  }

  async delete(callId: string): Promise<void> {
    const a = this.affinity.get(callId);
    if (a === undefined) return;
    this.affinity.delete(callId);
    try {
      const reply = await this.relaySet.request(a.relay, 'delete', { 'call-id': callId });
      // "Unknown call-id": an INVITE that never got as far as an offer; nothing is left anyway.
      if (reply['result'] !== 'ok') this.log.debug({ callId, reason: reply['error-reason'] }, 'ng delete not ok');
    } catch (err) {
      this.log.warn({ callId, relay: a.relay.url, err: (err as Error).message }, 'ng delete failed; the relay times the session out');
    }
  }

  /** A new call ended without a 2xx (4xx-6xx, CANCEL's 487, Timer C): its session goes. */
  onFinalResponse(event: FinalResponseEvent): void {
    if (event.response.status < 300) return;
    const req = event.received;
    if (req.method !== 'INVITE' || req.to.tag !== null) return;
    void this.delete(req.callId);
  }

  close(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.relaySet.close();
  }
}
