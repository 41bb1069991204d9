/**
 * What a call needs from the engine that runs it: the UA, the shared timer wheel and media
 * clock, the mailboxes and prompts, settings, and the engine's bookkeeping hooks. One object
 * per engine, handed to every call (no module-level state).
 */
import type { Logger, TimerWheel } from '@voip/sip';
import type { MailboxStore } from '../mailbox/mailbox-store.js';
import type { PromptLibrary } from '../media/prompts.js';
import type { UserAgent } from '../sip/user-agent.js';

export interface CallSettings {
  maxRecordingSeconds: number;
  minRecordingSeconds: number;
  reorderDepth: number;
  /** Mailbox access: hang up after this long without a digit. */
  idleSeconds: number;
}

export interface CallOutcomeObserver {
  onMessageRecorded(durationSeconds: number): void;
  onRecordingDropped(why: 'too-short' | 'error'): void;
  onCallEnded(kind: 'deposit' | 'access', how: string): void;
}

export interface CallContext {
  readonly ua: UserAgent;
  readonly wheel: TimerWheel;
  readonly mailboxes: MailboxStore;
  readonly prompts: PromptLibrary;
  readonly settings: CallSettings;
  readonly log: Logger;
  readonly observer: CallOutcomeObserver;
  /** Address written into our SDP. */
  readonly mediaAdvertise: string;
  releasePort(port: number): void;
  /** The call (a MediaCall) released everything it held. */
  callEnded(call: object): void;
}
