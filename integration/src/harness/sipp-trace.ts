/**
 * Reads SIPp's `-trace_msg` message file: every message SIPp sent or received, in order,
 * each introduced by a line of 47 dashes and a timestamp, then
 * `UDP message sent (N bytes):` or `TCP message received [N] bytes :`, a blank line and the
 * message itself. The parsed list is what tests assert on (headers the peer really got).
 */
import { readFileSync, existsSync } from 'node:fs';
import { SipText } from './sip-text.js';

export interface TracedMessage {
  /** Wall-clock time SIPp logged, as ms since the epoch. */
  time: number;
  direction: 'sent' | 'received';
  transport: string;
  message: SipText;
}

const SEPARATOR = /^-{40,} (\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(\.\d+)?\s*$/;
const HEADLINE = /^(\w+) message (sent|received)\b/;

export function parseSippMessages(text: string): TracedMessage[] {
  const out: TracedMessage[] = [];
  const lines = text.split('\n');
  let i = 0;
  while (i < lines.length) {
    const sep = SEPARATOR.exec(lines[i]!);
    if (!sep) {
      i++;
      continue;
    }
    const frac = sep[3] ? Number(sep[3]) : 0;
    const time = Date.parse(`${sep[1]}T${sep[2]}`) + Math.round(frac * 1000);
    const head = HEADLINE.exec(lines[i + 1] ?? '');
    i += 2;
    const body: string[] = [];
    while (i < lines.length && !SEPARATOR.test(lines[i]!)) body.push(lines[i++]!);
    if (!head) continue; // a free-form log line SIPp wrote into the file
    // The message is preceded by one blank line and followed by one or two.
    const raw = body.join('\n').replace(/^\r?\n/, '').replace(/\n+$/, '\n');
    out.push({
      time,
      direction: head[2] === 'sent' ? 'sent' : 'received',
      transport: head[1]!,
      message: new SipText(raw),
    });
  }
  return out;
}

export function readSippMessages(file: string): TracedMessage[] {
  if (!existsSync(file)) return [];
  return parseSippMessages(readFileSync(file, 'latin1'));
}

/** One line per message, `> INVITE` / `< 180 (INVITE)`: a compact message flow for failures. */
export function describeFlow(messages: readonly TracedMessage[]): string {
  return messages
    .map((m) => `${m.direction === 'sent' ? '>' : '<'} ${m.transport} ${m.message.startLine}`)
    .join('\n');
}
