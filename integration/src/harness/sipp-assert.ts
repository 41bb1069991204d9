/**
 * Assertion helpers over SIPp results: a failed run reports its message flow, SIPp's error
 * file and the proxy's log tail, so a failure reads like a ladder diagram, not "exit 1".
 */
import { AssertionError } from 'node:assert';
import type { RunningProxy, SippResult } from './backend.js';
import type { SipText } from './sip-text.js';

export interface MessageFilter {
  method?: string;
  status?: number;
  /** Method in CSeq (for responses). */
  cseqMethod?: string;
}

function matches(m: SipText, f: MessageFilter): boolean {
  if (f.method !== undefined && m.method !== f.method) return false;
  if (f.status !== undefined && m.status !== f.status) return false;
  if (f.cseqMethod !== undefined && m.cseqMethod !== f.cseqMethod) return false;
  return true;
}

export function receivedBy(r: SippResult, f: MessageFilter = {}): SipText[] {
  return r.messages.filter((m) => m.direction === 'received' && matches(m.message, f)).map((m) => m.message);
}

export function sentBy(r: SippResult, f: MessageFilter = {}): SipText[] {
  return r.messages.filter((m) => m.direction === 'sent' && matches(m.message, f)).map((m) => m.message);
}

/** Everything needed to understand a failure: each SIPp's flow and errors, the proxy log. */
export function explain(results: readonly SippResult[], proxy?: RunningProxy): string {
  const parts = results.map(
    (r) => `--- sipp ${r.name} (exit ${r.exitCode ?? r.signal}, port ${r.localPort})\n${r.flow || '(no messages)'}` +
      (r.errors.trim() ? `\n  errors:\n${r.errors.trim().split('\n').slice(-15).map((l) => '    ' + l).join('\n')}` : ''),
  );
  if (proxy) parts.push(`--- proxy (${proxy.implementation}) log tail\n${proxy.logTail(2500)}`);
  return parts.join('\n');
}

/** Fails unless every SIPp run exited 0 (all calls successful). */
export function assertSippOk(results: readonly SippResult[], proxy?: RunningProxy): void {
  const bad = results.filter((r) => r.exitCode !== 0);
  if (bad.length > 0) {
    throw new AssertionError({
      message: `SIPp ${bad.map((r) => `${r.name} exited ${r.exitCode ?? r.signal}`).join(', ')}\n${explain(results, proxy)}`,
    });
  }
}

/** Exactly one message matching the filter, else an error naming the flow. */
export function one(list: readonly SipText[], what: string, context: string): SipText {
  if (list.length !== 1) {
    throw new AssertionError({ message: `expected exactly one ${what}, got ${list.length}\n${context}` });
  }
  return list[0]!;
}
