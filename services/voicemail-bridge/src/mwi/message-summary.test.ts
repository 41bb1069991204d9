import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatMessageSummary, parseMessageSummary } from './message-summary.js';

describe('application/simple-message-summary (RFC 3842 §5)', () => {
  it('formats Messages-Waiting, Message-Account and Voice-Message new/old (urgent)', () => {
    const body = formatMessageSummary({ account: 'sip:alice@example.com', newMessages: 2, oldMessages: 8 }).toString();
    assert.equal(body, 'Messages-Waiting: yes\r\nMessage-Account: sip:alice@example.com\r\nVoice-Message: 2/8 (0/0)\r\n');
    assert.match(formatMessageSummary({ account: 'sip:a@b', newMessages: 0, oldMessages: 3 }).toString(), /^Messages-Waiting: no\r\n/);
  });

  it('parses its own output and the RFC 3842 §5.2 example', () => {
    assert.deepEqual(parseMessageSummary(formatMessageSummary({ account: 'sip:a@b', newMessages: 1, oldMessages: 0 }).toString()), {
      waiting: true,
      account: 'sip:a@b',
      newMessages: 1,
      oldMessages: 0,
    });
    const rfc = 'Messages-Waiting: yes\r\nMessage-Account: sip:alice@vmail.example.com\r\nVoice-Message: 2/8 (0/2)\r\n';
    assert.deepEqual(parseMessageSummary(rfc), { waiting: true, account: 'sip:alice@vmail.example.com', newMessages: 2, oldMessages: 8 });
  });

  it('rejects bodies without a valid Messages-Waiting', () => {
    assert.equal(parseMessageSummary('Voice-Message: 1/0\r\n'), null);
    assert.equal(parseMessageSummary('Messages-Waiting: maybe\r\n'), null);
    assert.equal(parseMessageSummary('Messages-Waiting: yes\r\nVoice-Message: lots\r\n'), null);
  });
});
