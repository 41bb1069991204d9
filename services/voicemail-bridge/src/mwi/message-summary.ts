/**
 * RFC 3842 §5 `application/simple-message-summary` bodies:
 *
 *   Messages-Waiting: yes
 *   Message-Account: sip:alice@example.com
 *   Voice-Message: 2/8 (0/0)
 *
 * `Voice-Message: new/old (new-urgent/old-urgent)` (§5.2); Messages-Waiting is "yes" while
 * any new message exists (§5.1). A parser for the same format serves tests and the AMI relay.
 */

export const MESSAGE_SUMMARY_TYPE = 'application/simple-message-summary';
export const MESSAGE_SUMMARY_EVENT = 'message-summary';

export interface MessageSummary {
  waiting: boolean;
  account: string | null;
  newMessages: number;
  oldMessages: number;
}

export function formatMessageSummary(s: { account: string; newMessages: number; oldMessages: number }): Buffer {
  return Buffer.from(
    `Messages-Waiting: ${s.newMessages > 0 ? 'yes' : 'no'}\r\n` +
      `Message-Account: ${s.account}\r\n` +
      `Voice-Message: ${s.newMessages}/${s.oldMessages} (0/0)\r\n`,
    'latin1',
  );
}

export function parseMessageSummary(body: string): MessageSummary | null {
  let waiting: boolean | null = null;
  let account: string | null = null;
  let newMessages = 0;
  let oldMessages = 0;
  for (const line of body.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'messages-waiting') {
      const v = value.toLowerCase();
      if (v !== 'yes' && v !== 'no') return null;
      waiting = v === 'yes';
    } else if (name === 'message-account') {
      account = value;
    } else if (name === 'voice-message') {
      const m = /^(\d{1,9})\/(\d{1,9})/.exec(value);
      if (m === null) return null;
      newMessages = Number(m[1]);
      oldMessages = Number(m[2]);
    }
  }
  if (waiting === null) return null;
  return { waiting, account, newMessages, oldMessages };
}
