/**
 * Helpers shared by the proxy suites: registering a phone through SIPp, reading bindings
 * from a registrar's 200, and the header checks every proxied message needs.
 */
import assert from 'node:assert/strict';
import {
  assertSippOk, explain, param, receivedBy, uriHostPort, uriOf, uriParam,
  type Backend, type RunningProxy, type SipText, type SippResult, type SipTransport,
} from '../harness/index.js';

export interface Binding {
  uri: string;
  expires: number | null;
  q: number | null;
}

/** Contact bindings listed in a REGISTER response (RFC 3261 §10.3 step 8). */
export function bindingsOf(msg: SipText): Binding[] {
  return msg.values('contact').map((v) => {
    const e = param(v, 'expires');
    const q = param(v, 'q');
    return { uri: uriOf(v), expires: e == null ? null : Number(e), q: q == null ? null : Number(q) };
  });
}

/** RFC 3261 §19.1.4-ish comparison good enough for our own contacts: scheme, user, host, port. */
export function sameContact(a: string, b: string): boolean {
  const norm = (u: string): string => {
    const m = /^(sips?):(?:([^@;?]*)@)?([^;?>]+)/i.exec(u.trim());
    return m ? `${m[1]!.toLowerCase()}:${m[2] ?? ''}@${m[3]!.toLowerCase()}` : u;
  };
  return norm(a) === norm(b);
}

export function findBinding(bindings: readonly Binding[], uri: string): Binding | undefined {
  return bindings.find((b) => sameContact(b.uri, uri));
}

/** The one final response of a SIPp run's REGISTER transaction with that CSeq number. */
export function registerResponse(r: SippResult, status: number, cseq = 1): SipText {
  const list = receivedBy(r, { status, cseqMethod: 'REGISTER' }).filter((m) => m.cseqNumber === cseq);
  assert.ok(list.length >= 1, `no ${status} for REGISTER CSeq ${cseq}\n${explain([r])}`);
  return list[list.length - 1]!;
}

export interface RegisterOptions {
  user: string;
  contact: string;
  expires?: number;
  transport?: SipTransport;
  name?: string;
}

/** Registers one binding (scenario register.xml) and fails the test if the registrar refuses. */
export async function register(lab: Backend, proxy: RunningProxy, o: RegisterOptions): Promise<SippResult> {
  const r = await lab.runSipp({
    name: o.name ?? `register-${o.user}`,
    scenario: 'register',
    remote: proxy.sipAddress,
    transport: o.transport ?? 'udp',
    keys: { user: o.user, contact: o.contact, expires: o.expires ?? 3600 },
    timeoutMs: 10_000,
  });
  assertSippOk([r], proxy);
  return r;
}

/** A contact URI for a SIPp phone on `port` (transport parameter for TCP, RFC 3263). */
export function phoneContact(user: string, host: string, port: number, transport: SipTransport = 'udp'): string {
  return `sip:${user}@${host}:${port}${transport === 'tcp' ? ';transport=tcp' : ''}`;
}

/** Does this Via / URI sent-by name the proxy (host and port)? */
export function namesProxy(hostPort: { host: string; port: number }, proxy: RunningProxy): boolean {
  return hostPort.host === proxy.host && hostPort.port === proxy.port;
}

/** sent-by of a Via value: `SIP/2.0/UDP host:port;...`. */
export function viaSentBy(via: string): { transport: string; host: string; port: number } {
  const m = /^SIP\s*\/\s*2\.0\s*\/\s*(\w+)\s+(\[[^\]]+\]|[^:;\s]+)(?:\s*:\s*(\d+))?/i.exec(via.trim());
  if (!m) return { transport: '', host: '', port: 0 };
  return { transport: m[1]!.toUpperCase(), host: m[2]!.toLowerCase(), port: m[3] ? Number(m[3]) : 5060 };
}

/**
 * The proxy's Record-Route entry in a message: the Record-Route values naming the proxy.
 * RFC 3261 §16.6 step 4: loose routing requires `;lr`.
 */
export function proxyRecordRoutes(msg: SipText, proxy: RunningProxy): string[] {
  return msg.values('record-route').filter((v) => namesProxy(uriHostPort(uriOf(v)), proxy));
}

export function assertLooseRoute(uri: string, what: string): void {
  assert.notEqual(uriParam(uri, 'lr'), undefined, `${what}: ${uri} lacks ;lr (RFC 3261 §16.6 step 4)`);
}

/**
 * Marks the lab as failed when a test body throws, so INTEGRATION_KEEP_LOGS=on-failure keeps
 * the logs of exactly the failing runs.
 */
export function failureTracker(): { track: <T>(fn: () => Promise<T>) => () => Promise<T>; failed: () => boolean } {
  let failed = false;
  return {
    track: (fn) => async () => {
      try {
        return await fn();
      } catch (err) {
        failed = true;
        throw err;
      }
    },
    failed: () => failed,
  };
}
