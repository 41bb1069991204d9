import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { silentLogger } from '@voip/sip';
import { loadConfig } from '../config.js';
import { SubscriberDirectory } from '../subscribers/subscriber-directory.js';
import { splitAmiPackets, formatAmiAction } from './ami-client.js';
import { AsteriskBackend } from './asterisk-backend.js';
import { AsteriskSpool, callerOf, parseMessageInfo } from './asterisk-spool.js';
import { renderVoicemailConf } from './voicemail-conf.js';

const root = mkdtempSync(join(tmpdir(), 'vm-ast-'));
after(() => rmSync(root, { recursive: true, force: true }));

function msgTxt(n: number, callerid: string, exten: string, origtime: number, duration: number): string {
  return `;\n; Message Information file\n;\n[message]\norigmailbox=alice\ncontext=voicemail\nexten=${exten}\ncallerid=${callerid}\norigtime=${origtime}\nduration=${duration}\nmsg_id=${origtime}-0000000${n}\n`;
}

describe('voicemail.conf generation', () => {
  it('one mailbox per subscriber in the context; unusable or duplicate usernames are skipped', () => {
    const { text, skipped } = renderVoicemailConf(
      [
        { username: 'bob', domain: 'b.example' },
        { username: 'alice', domain: 'a.example' },
        { username: 'alice', domain: 'z.example' },
        { username: 'we;ird', domain: 'a.example' },
      ],
      { context: 'default', maxSeconds: 120, minSeconds: 1 },
    );
    const lines = text.split('\n');
    assert.ok(lines.includes('[default]'));
    assert.ok(lines.includes('format = wav'));
    assert.ok(lines.includes('maxsecs = 120'));
    const boxes = lines.filter((l) => l.includes(' => '));
    assert.deepEqual(boxes, ['alice => 0000,alice@a.example,,,', 'bob => 0000,bob@b.example,,,']);
    assert.deepEqual(skipped, ['alice@z.example', 'we;ird@a.example']);
  });
});

describe('AMI framing', () => {
  it('splits packets on the empty line and keeps the partial rest', () => {
    const { packets, rest } = splitAmiPackets('Response: Success\r\nActionID: 1\r\nMessage: ok\r\n\r\nEvent: MessageWaiting\r\nMailbox: alice@default\r\n\r\nEvent: Par');
    assert.deepEqual(packets, [
      { response: 'Success', actionid: '1', message: 'ok' },
      { event: 'MessageWaiting', mailbox: 'alice@default' },
    ]);
    assert.equal(rest, 'Event: Par');
  });

  it('formats actions with an ActionID and no line breaks inside values', () => {
    assert.equal(formatAmiAction('Login', { Username: 'u', Secret: 'a\r\nAction: Logoff' }, 'x1'), 'Action: Login\r\nActionID: x1\r\nUsername: u\r\nSecret: a  Action: Logoff\r\n\r\n');
  });
});

describe('AsteriskSpool (app_voicemail layout)', () => {
  it('lists INBOX as new and Old as old, reads message info, deletes with renumbering', async () => {
    const spool = join(root, 'spool');
    const inbox = join(spool, 'default', 'alice', 'INBOX');
    mkdirSync(inbox, { recursive: true });
    mkdirSync(join(spool, 'default', 'alice', 'Old'), { recursive: true });
    for (let n = 0; n < 3; n++) {
      writeFileSync(join(inbox, `msg000${n}.txt`), msgTxt(n, `"Bob" <sip:bob@example.com>`, n === 0 ? 'balice' : 'ualice', 1_700_000_000 + n, 4 + n));
      writeFileSync(join(inbox, `msg000${n}.wav`), `wav${n}`);
    }
    // What Asterisk writes for the proxy's calls: the caller's user part in angle brackets.
    writeFileSync(join(spool, 'default', 'alice', 'Old', 'msg0000.txt'), msgTxt(9, '"carol" <carol>', 'balice', 1_600_000_000, 2));
    const s = new AsteriskSpool(spool, 'default');
    const list = await s.list('alice', 'example.com');
    assert.deepEqual(list.map((m) => [m.id, m.folder, m.duration_s, m.caller, m.callerName, m.reason]), [
      ['1700000000-00000000', 'new', 4, 'sip:bob@example.com', 'Bob', 'busy'],
      ['1700000001-00000001', 'new', 5, 'sip:bob@example.com', 'Bob', 'unavailable'],
      ['1700000002-00000002', 'new', 6, 'sip:bob@example.com', 'Bob', 'unavailable'],
      ['1600000000-00000009', 'old', 2, 'sip:carol@example.com', 'carol', 'busy'],
    ]);
    assert.equal(list[0]!.received_at, new Date(1_700_000_000_000).toISOString());
    assert.deepEqual(await s.counts('alice', 'example.com'), { newMessages: 3, oldMessages: 1 });
    assert.equal((await s.audio('alice', 'example.com', '1700000001-00000001'))?.toString(), 'wav1');
    const refreshed: string[] = [];
    s.refresh = (m) => refreshed.push(m);
    assert.equal(await s.remove('alice', 'example.com', '1700000000-00000000'), true);
    assert.deepEqual(readdirSync(inbox).sort(), ['msg0000.txt', 'msg0000.wav', 'msg0001.txt', 'msg0001.wav']);
    assert.match(readFileSync(join(inbox, 'msg0000.txt'), 'utf8'), /msg_id=1700000001/);
    assert.deepEqual(refreshed, ['alice']);
    assert.equal(await s.remove('alice', 'example.com', 'nope'), false);
    assert.deepEqual(parseMessageInfo('[message]\n; c\nduration=3\n'), { duration: '3' });
    assert.equal(typeof list[0]!.duration_s, 'number', 'duration in seconds, a number like the built-in API');
  });

  it('reports callers as SIP URIs in the mailbox domain, like the built-in engine', () => {
    assert.deepEqual(callerOf('"alice" <alice>', 'example.com'), { caller: 'sip:alice@example.com', callerName: 'alice' });
    assert.deepEqual(callerOf('<5551234>', 'example.com'), { caller: 'sip:5551234@example.com', callerName: null });
    assert.deepEqual(callerOf('bob', 'example.com'), { caller: 'sip:bob@example.com', callerName: null });
    assert.deepEqual(callerOf('"Bob" <sip:bob@other.net>', 'example.com'), { caller: 'sip:bob@other.net', callerName: 'Bob' });
    assert.deepEqual(callerOf('"Bob" <bob@other.net>', 'example.com'), { caller: 'sip:bob@other.net', callerName: 'Bob' });
    assert.deepEqual(callerOf('Unknown', 'example.com'), { caller: 'unknown', callerName: null });
    assert.deepEqual(callerOf(undefined, 'example.com'), { caller: 'unknown', callerName: null });
  });
});

describe('AsteriskBackend with a stand-in AMI server', () => {
  it('logs in, writes voicemail.conf, reloads app_voicemail and turns MessageWaiting into mailbox changes (changes only)', async () => {
    const seen: Record<string, string>[] = [];
    let client: Socket | null = null;
    const server: Server = createServer((sock) => {
      client = sock;
      sock.write('Asterisk Call Manager/9.0.0\r\n');
      let buf = '';
      sock.on('data', (d) => {
        buf += d.toString('latin1');
        const r = splitAmiPackets(buf);
        buf = r.rest;
        for (const p of r.packets) {
          seen.push(p);
          const ok = p.action === 'Login' ? (p.secret === 's3cret' ? 'Success' : 'Error') : 'Success';
          sock.write(`Response: ${ok}\r\nActionID: ${p.actionid}\r\nMessage: done\r\n\r\n`);
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const dir = join(root, 'backend');
    mkdirSync(dir, { recursive: true });
    const subs = join(dir, 'subs.yaml');
    writeFileSync(subs, 'subscribers:\n  - { username: alice, domain: example.com, password: x }\n');
    const directory = new SubscriberDirectory({ description: 'test', load: async () => [{ username: 'alice', domain: 'example.com' }], close: async () => {} });
    await directory.refresh();
    const cfg = loadConfig({ db: `file:${subs}`, backend: 'asterisk', asterisk: { ami: `127.0.0.1:${port}`, username: 'vmb', secret: 's3cret', voicemailConf: join(dir, 'voicemail.conf'), spool: join(dir, 'spool') } });
    const backend = new AsteriskBackend(cfg.asterisk, directory, silentLogger, cfg.recording);
    const changes: string[] = [];
    backend.spool.setListener({ onMailboxChanged: (u, d, c) => changes.push(`${u}@${d} ${c.newMessages}/${c.oldMessages}`) });
    try {
      await backend.start();
      assert.match(readFileSync(join(dir, 'voicemail.conf'), 'utf8'), /^alice => 0000,alice@example\.com,,,$/m);
      const deadline = Date.now() + 5000;
      while (!seen.some((p) => p.action === 'Reload') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.ok(backend.amiConnected);
      assert.deepEqual(seen.map((p) => p.action), ['Login', 'Reload']);
      assert.equal(seen[1]!.module, 'app_voicemail');
      // The reload's round of events: an empty mailbox is no news (a phone shows none waiting).
      client!.write('Event: MessageWaiting\r\nMailbox: alice@default\r\nWaiting: 0\r\nNew: 0\r\nOld: 0\r\n\r\n');
      client!.write('Event: MessageWaiting\r\nMailbox: alice@default\r\nWaiting: 1\r\nNew: 2\r\nOld: 1\r\n\r\n');
      client!.write('Event: MessageWaiting\r\nMailbox: nobody@default\r\nWaiting: 1\r\nNew: 1\r\nOld: 0\r\n\r\n');
      client!.write('Event: MessageWaiting\r\nMailbox: alice@other\r\nWaiting: 0\r\nNew: 0\r\nOld: 0\r\n\r\n');
      // A reload repeats alice's unchanged state: no news for her phone. Then a real change.
      client!.write('Event: MessageWaiting\r\nMailbox: alice@default\r\nWaiting: 1\r\nNew: 2\r\nOld: 1\r\n\r\n');
      client!.write('Event: MessageWaiting\r\nMailbox: alice@default\r\nWaiting: 1\r\nNew: 1\r\nOld: 2\r\n\r\n');
      while (changes.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(changes, ['alice@example.com 2/1', 'alice@example.com 1/2']);
    } finally {
      await backend.stop();
      server.close();
    }
  });
});
