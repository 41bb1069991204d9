/**
 * Asterisk's voicemail spool as a MailboxReader, so the HTTP API and MWI work the same on
 * both backends: `<spool>/<context>/<mailbox>/INBOX/msgNNNN.{txt,wav}` are new messages,
 * `Old/` the heard ones (app_voicemail's layout). The `.txt` is app_voicemail's message
 * info file (`callerid=`, `origtime=`, `duration=`, `msg_id=`). A delete removes the files
 * and renumbers the later ones down, because app_voicemail stops counting at the first gap.
 */
import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { GreetingKind, MailboxChangeListener, MailboxCounts, MailboxReader, MessageInfo } from '../mailbox/mailbox-store.js';
import { writeFileAtomic } from '../mailbox/mailbox-store.js';

const FOLDERS: readonly { dir: string; folder: 'new' | 'old' }[] = [
  { dir: 'INBOX', folder: 'new' },
  { dir: 'Old', folder: 'old' },
];
const MSG_RE = /^msg(\d{4})\.txt$/;
const ID_RE = /^[0-9A-Za-z_-]{1,64}$/;

/** app_voicemail's `[message]` info file as key → value. */
export function parseMessageInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    if (line.startsWith(';') || line.startsWith('[')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    out[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return out;
}

const USER_RE = /^[A-Za-z0-9_.!~*'()&=+$,;?/%-]{1,64}$/;

/**
 * app_voicemail's `callerid=` as the built-in engine reports callers: a SIP URI. Asterisk
 * writes `"Name" <num>` with the caller's number (for the proxy's calls, the From user), so
 * `"alice" <alice>` becomes `sip:alice@<the mailbox's domain>` (the subscriber's domain: the
 * proxy only sends its own users' calls here); a full `<sip:…>` is kept as it is.
 */
export function callerOf(callerid: string | undefined, domain: string): { caller: string; callerName: string | null } {
  if (callerid === undefined || callerid === '' || callerid.toLowerCase() === 'unknown') return { caller: 'unknown', callerName: null };
  const m = /^\s*(?:"([^"]{0,128})"\s*)?<([^<>]{0,256})>\s*$/.exec(callerid.slice(0, 512));
  const name = m === null ? null : (m[1] ?? null);
  const id = (m === null ? callerid : m[2]!).trim();
  if (/^sips?:/i.test(id)) return { caller: id, callerName: name };
  if (id.includes('@')) return { caller: `sip:${id}`, callerName: name };
  if (USER_RE.test(id)) return { caller: `sip:${id}@${domain}`, callerName: name };
  return { caller: id === '' ? 'unknown' : id, callerName: name };
}

interface SpoolEntry {
  info: MessageInfo;
  dir: string;
  base: string;
}

export class AsteriskSpool implements MailboxReader {
  readonly root: string;
  readonly context: string;
  private listener: MailboxChangeListener | null;
  /** Counts last passed to the listener, per `user@domain` (bounded by the subscribers). */
  private readonly announced: Map<string, MailboxCounts>;
  /** Asks Asterisk to re-count a mailbox (and so re-send MWI) after we changed the spool. */
  refresh: ((mailbox: string) => void) | null;

  constructor(root: string, context: string) {
    this.root = root;
    this.context = context;
    this.listener = null;
    this.announced = new Map();
    this.refresh = null;
  }

  setListener(l: MailboxChangeListener | null): void {
    this.listener = l;
  }

  /**
   * An AMI MessageWaiting event (or our own change) for `username`. Only a change of the
   * counts is passed on: app_voicemail announces every mailbox on each `Reload` (Asterisk 22
   * sends one MessageWaiting per mailbox, changed or not), and after our own DELETE its
   * VoicemailRefresh repeats what we already announced. A mailbox not seen yet counts as
   * empty, which is what a phone shows before any NOTIFY: after a bridge start, mailboxes
   * holding messages are announced and empty ones are not.
   */
  changed(username: string, domain: string, counts: MailboxCounts): void {
    const key = `${username}@${domain}`;
    const last = this.announced.get(key) ?? { newMessages: 0, oldMessages: 0 };
    if (last.newMessages === counts.newMessages && last.oldMessages === counts.oldMessages) return;
    this.announced.set(key, { newMessages: counts.newMessages, oldMessages: counts.oldMessages });
    this.listener?.onMailboxChanged(username, domain, counts);
  }

  private box(username: string): string {
    return join(this.root, this.context, username);
  }

  private async entries(username: string, domain: string): Promise<SpoolEntry[]> {
    const out: SpoolEntry[] = [];
    for (const f of FOLDERS) {
      const dir = join(this.box(username), f.dir);
      let files: string[];
      try {
        files = await readdir(dir);
      } catch {
        continue;
      }
      for (const file of files.sort()) {
        const m = MSG_RE.exec(file);
        if (m === null) continue;
        const base = `msg${m[1]}`;
        let text: string;
        try {
          text = await readFile(join(dir, file), 'latin1');
        } catch {
          continue;
        }
        const kv = parseMessageInfo(text);
        const { caller, callerName } = callerOf(kv.callerid, domain);
        const origtime = Number(kv.origtime);
        const msgId = kv.msg_id !== undefined && ID_RE.test(kv.msg_id) ? kv.msg_id : `${f.dir}-${m[1]}`;
        const exten = kv.exten ?? '';
        out.push({
          dir,
          base,
          info: {
            id: msgId,
            caller,
            callerName,
            received_at: Number.isFinite(origtime) ? new Date(origtime * 1000).toISOString() : new Date(0).toISOString(),
            duration_s: Number(kv.duration) || 0,
            folder: f.folder,
            reason: exten.startsWith('b') ? 'busy' : 'unavailable',
            callId: '',
          },
        });
      }
    }
    return out;
  }

  async list(username: string, domain: string): Promise<MessageInfo[]> {
    return (await this.entries(username, domain)).map((e) => e.info);
  }

  async counts(username: string, domain: string): Promise<MailboxCounts> {
    const e = await this.entries(username, domain);
    return { newMessages: e.filter((x) => x.info.folder === 'new').length, oldMessages: e.filter((x) => x.info.folder === 'old').length };
  }

  async audio(username: string, domain: string, id: string): Promise<Buffer | null> {
    const e = (await this.entries(username, domain)).find((x) => x.info.id === id);
    if (e === undefined) return null;
    // format = wav (our voicemail.conf) stores 8 kHz 16-bit PCM; wav49 is GSM and not served.
    try {
      return await readFile(join(e.dir, `${e.base}.wav`));
    } catch {
      return null;
    }
  }

  async remove(username: string, domain: string, id: string): Promise<boolean> {
    const all = await this.entries(username, domain);
    const e = all.find((x) => x.info.id === id);
    if (e === undefined) return false;
    const files = await readdir(e.dir);
    for (const f of files) if (f.startsWith(`${e.base}.`)) await rm(join(e.dir, f), { force: true });
    // Close the gap: app_voicemail numbers messages 0..n-1 without holes.
    const n = Number(e.base.slice(3));
    const later = files
      .map((f) => /^msg(\d{4})\.(.+)$/.exec(f))
      .filter((m): m is RegExpExecArray => m !== null && Number(m[1]) > n)
      .sort((a, b) => Number(a[1]) - Number(b[1]));
    for (const m of later) {
      await rename(join(e.dir, m[0]), join(e.dir, `msg${String(Number(m[1]) - 1).padStart(4, '0')}.${m[2]}`));
    }
    this.refresh?.(username);
    const c = await this.counts(username, domain);
    this.changed(username, domain, c);
    return true;
  }

  /** Asterisk's own greeting files: busy.wav and unavail.wav in the mailbox folder. */
  async saveGreeting(username: string, _domain: string, kind: GreetingKind, wav: Buffer): Promise<void> {
    const dir = this.box(username);
    await mkdir(dir, { recursive: true });
    await writeFileAtomic(join(dir, kind === 'busy' ? 'busy.wav' : 'unavail.wav'), dir, wav, 0o644);
  }
}
