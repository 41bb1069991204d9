/**
 * The built-in voicemail engine over real SIP (issue 10): SIPp callers leave messages with a
 * sox-generated G.711 tone played from a pcap (play_pcap_audio), the HTTP API lists them with
 * caller and duration, the stored WAV holds the tone (Goertzel), the greeting RTP reaches the
 * caller, `#` ends a recording, a SIPp subscriber sees MWI yes then no, the mailbox IVR plays
 * and deletes by DTMF, a kill -9 during a recording loses no earlier message, and a G.729-only
 * offer gets 488. Calls go straight to the bridge here; the provider route's tests drive the
 * same flows through the proxy.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createBackend, explain, receivedBy, sentBy, type Backend, type SippResult } from '../harness/index.js';
import { dominantFrequency, goertzel, ulawDecode, wavSamples } from './audio-fixtures.js';
import { BridgeProcess, RtpSink, waitFor, writeFixtures, writeSubscribers } from './support.js';

const TONE_HZ = 440;
const TONE_SECONDS = 3;
/** Tone prompts (--no-speech): greeting 1.0 s + beep 0.25 s; SIPp waits a little longer. */
const GREETING_MS = 1800;
const CANDIDATES = [300, 440, 480, 620, 660, 880, 1000];

describe('voicemail-bridge: built-in engine with SIPp', { timeout: 240_000 }, () => {
  let lab: Backend;
  let bridge: BridgeProcess;
  let dir: string;
  let fixtures: ReturnType<typeof writeFixtures>;
  let db: string;
  const sinks: RtpSink[] = [];

  before(async () => {
    lab = await createBackend('voicemail');
    dir = lab.workDir.path;
    db = `file:${writeSubscribers(dir, ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'])}`;
    fixtures = writeFixtures(dir, TONE_HZ, TONE_SECONDS);
    bridge = await BridgeProcess.start({ dir, db, spool: join(dir, 'spool'), extra: ['--no-speech'] });
  });

  after(async () => {
    for (const s of sinks) s.close();
    await bridge?.stop().catch(() => {});
    await lab?.close();
  });

  async function sink(): Promise<RtpSink> {
    const s = await RtpSink.open();
    sinks.push(s);
    return s;
  }

  function ok(r: SippResult): void {
    assert.equal(r.exitCode, 0, `SIPp ${r.name} failed\n${explain([r])}\n--- bridge log\n${bridge.logTail()}`);
  }

  async function deposit(user: string, prefix: 'b' | 'u', how: 'bye' | 'hash', caller = 'alice'): Promise<{ result: SippResult; rtp: RtpSink }> {
    const rtp = await sink();
    const result = await lab.runSipp({
      name: `deposit-${prefix}${user}-${how}`,
      scenario: how === 'bye' ? 'vm-deposit' : 'vm-deposit-hash',
      remote: bridge.sipAddress,
      keys: {
        caller,
        vm_user: `${prefix}${user}`,
        rtp_port: rtp.port,
        greeting_ms: GREETING_MS,
        audio: fixtures.tone,
        audio_ms: TONE_SECONDS * 1000 + 300,
        dtmf: fixtures.hash,
        pai: 'Subject: voicemail test',
      },
      timeoutMs: 30_000,
    });
    return { result, rtp };
  }

  it('a call to b<user> plays the greeting, records the caller\'s tone until BYE, and the API lists it', async () => {
    const { result, rtp } = await deposit('bob', 'b', 'bye');
    ok(result);
    const ok200 = receivedBy(result, { status: 200, cseqMethod: 'INVITE' })[0];
    assert.ok(ok200 !== undefined && /m=audio \d+ RTP\/AVP 0 101/.test(ok200.body), `answer must pick PCMU + telephone-event:\n${ok200?.body}`);

    const { status, body } = await bridge.messages('bob');
    assert.equal(status, 200);
    assert.equal(body.length, 1, JSON.stringify(body));
    const m = body[0]!;
    assert.equal(m.caller, 'sip:alice@lab.example');
    assert.equal(m.caller_name, 'Caller alice');
    assert.equal(m.folder, 'new');
    assert.ok(Math.abs(m.duration_s - TONE_SECONDS) <= 0.5, `duration ${m.duration_s} s, expected ${TONE_SECONDS} ± 0.5`);

    const wav = wavSamples(await bridge.wav('bob', m.id));
    assert.equal(wav.rate, 8000);
    assert.ok(Math.abs(wav.samples.length / 8000 - TONE_SECONDS) <= 0.5);
    const dom = dominantFrequency(wav.samples, CANDIDATES);
    assert.equal(dom.freq, TONE_HZ, `recording's strongest frequency is ${dom.freq} Hz`);
    assert.ok(dom.ratio > 20, `440 Hz only ${dom.ratio.toFixed(1)}x above the next candidate`);

    // The greeting (tone prompts: 480/620 Hz pair, then the 1 kHz beep) reached the caller's
    // RTP port as consecutive 20 ms PCMU packets.
    const greeting = rtp.packets.filter((p) => p.pt === 0);
    assert.ok(greeting.length >= 55, `only ${greeting.length} greeting packets reached the caller`);
    for (let i = 1; i < greeting.length; i++) {
      assert.equal((greeting[i]!.seq - greeting[i - 1]!.seq) & 0xffff, 1, 'greeting RTP sequence numbers are consecutive');
      assert.equal((greeting[i]!.ts - greeting[i - 1]!.ts) >>> 0, 160, 'greeting RTP timestamps advance 160 per packet');
      assert.equal(greeting[i]!.payload.length, 160);
    }
    const heard = ulawDecode(Buffer.concat(greeting.map((p) => p.payload)));
    assert.ok(goertzel(heard, 480) > 100 * goertzel(heard, 440), 'the busy greeting (480 Hz) is what the caller heard');
    assert.ok(goertzel(heard, 1000) > 100 * goertzel(heard, 440), 'the beep (1 kHz) is what the caller heard');
  });

  it('# (RFC 4733) ends the recording of a u<user> call: the bridge hangs up and stores the message', async () => {
    const { result } = await deposit('frank', 'u', 'hash');
    ok(result);
    const bye = receivedBy(result, { method: 'BYE' });
    assert.equal(bye.length, 1, 'the bridge sent BYE after #');
    const { body } = await bridge.messages('frank');
    assert.equal(body.length, 1);
    assert.ok(Math.abs(body[0]!.duration_s - TONE_SECONDS) <= 0.5, `duration ${body[0]!.duration_s}`);
    const wav = wavSamples(await bridge.wav('frank', body[0]!.id));
    assert.equal(dominantFrequency(wav.samples, CANDIDATES).freq, TONE_HZ);
  });

  it('MWI: a SIPp subscriber gets NOTIFY Messages-Waiting no, yes after a message, no after DELETE, then terminated', async () => {
    const sub = await lab.startSipp({ name: 'mwi-carol', scenario: 'vm-subscribe', remote: bridge.sipAddress, keys: { vm_user: 'carol', changes: 2 }, timeoutMs: 60_000 });
    await waitFor('the subscription', async () => ((await bridge.health()).subscriptions === 1 ? true : null));
    ok((await deposit('carol', 'b', 'bye')).result);
    const { body } = await bridge.messages('carol');
    assert.equal(body.length, 1);
    assert.equal(await bridge.remove('carol', body[0]!.id), 204);
    assert.equal(await bridge.remove('carol', body[0]!.id), 404, 'a deleted message is gone');
    const r = await sub.result(30_000);
    ok(r);
    const notifies = receivedBy(r, { method: 'NOTIFY' });
    assert.equal(notifies.length, 4, r.flow);
    const waiting = notifies.map((n) => /^Messages-Waiting:\s*(yes|no)/im.exec(n.body)?.[1]);
    assert.deepEqual(waiting, ['no', 'yes', 'no', 'no']);
    assert.match(notifies[1]!.body, /^Voice-Message:\s*1\/0/im);
    assert.match(notifies[1]!.body, /^Message-Account:\s*sip:carol@lab\.example/im);
    for (const n of notifies) assert.equal(n.header('event')?.split(';')[0]?.trim(), 'message-summary');
    assert.match(notifies[0]!.header('subscription-state') ?? '', /^active;expires=\d+/);
    assert.match(notifies[3]!.header('subscription-state') ?? '', /^terminated/);
    assert.equal(sentBy(r, { method: 'SUBSCRIBE' }).length, 2);
  });

  it('mailbox access: the IVR announces, plays the message on 1, deletes it on 7 and hangs up on #', async () => {
    ok((await deposit('dave', 'u', 'bye', 'erin')).result);
    assert.equal((await bridge.messages('dave')).body.length, 1);
    const rtp = await sink();
    const r = await lab.runSipp({
      name: 'ivr-dave',
      scenario: 'vm-access',
      remote: bridge.sipAddress,
      keys: { vm_user: 'dave', rtp_port: rtp.port, intro_ms: 2500, listen_ms: 4000, dtmf1: fixtures.digit('1'), dtmf7: fixtures.digit('7'), dtmfhash: fixtures.hash },
      timeoutMs: 30_000,
    });
    ok(r);
    assert.equal((await bridge.messages('dave')).body.length, 0, 'message deleted by 7');
    // The IVR answered PCMA (the offer's first choice) and played the message: the 440 Hz
    // tone is in what the caller heard (A-law decoded by sox, independent of the bridge).
    const ok200 = receivedBy(r, { status: 200, cseqMethod: 'INVITE' })[0];
    assert.match(ok200?.body ?? '', /m=audio \d+ RTP\/AVP 8 101/);
    const heard = rtp.packets.filter((p) => p.pt === 8);
    assert.ok(heard.length > 100, `${heard.length} packets heard`);
    const pcm = alawDecode(Buffer.concat(heard.map((p) => p.payload)));
    let best = 0;
    for (let off = 0; off + 8000 <= pcm.length; off += 4000) {
      const w = pcm.subarray(off, off + 8000);
      best = Math.max(best, goertzel(w, TONE_HZ) / Math.max(goertzel(w, 300), goertzel(w, 1000), 1e-9));
    }
    assert.ok(best > 20, `the recorded 440 Hz message was played back (best window ratio ${best.toFixed(1)})`);
  });

  it('kill -9 during a recording loses no earlier message; the interrupted one leaves nothing behind', async () => {
    ok((await deposit('erin', 'b', 'bye')).result);
    const before = (await bridge.messages('erin')).body;
    assert.equal(before.length, 1);
    const rtp = await sink();
    const running = await lab.startSipp({
      name: 'deposit-killed',
      scenario: 'vm-deposit',
      remote: bridge.sipAddress,
      keys: { caller: 'bob', vm_user: 'berin', rtp_port: rtp.port, greeting_ms: GREETING_MS, audio: fixtures.tone, audio_ms: 3300, pai: 'Subject: x' },
      timeoutMs: 15_000,
    });
    // Kill while the caller's audio is being recorded: a few packets after the greeting.
    await waitFor('recording in progress', async () => (readdirSync(join(dir, 'spool', 'tmp')).length > 0 ? true : null), 10_000);
    await new Promise((r) => setTimeout(r, 800));
    bridge.kill9();
    await bridge.proc.waitForExit(5000);
    await running.stop();
    bridge = await bridge.restart();
    const afterKill = (await bridge.messages('erin')).body;
    assert.deepEqual(afterKill, before, 'exactly the earlier message survives');
    const wav = wavSamples(await bridge.wav('erin', before[0]!.id));
    assert.equal(dominantFrequency(wav.samples, CANDIDATES).freq, TONE_HZ);
    assert.deepEqual(readdirSync(join(dir, 'spool', 'tmp')), [], 'the interrupted recording was cleaned up');
  });

  it('an offer with only an unsupported codec (G.729) is refused with 488 and a Warning', async () => {
    const r = await lab.runSipp({ name: 'g729', scenario: 'vm-unsupported-codec', remote: bridge.sipAddress, keys: { caller: 'alice', vm_user: 'bbob' } });
    ok(r);
    const res = receivedBy(r, { status: 488 })[0];
    assert.ok(res !== undefined);
    assert.match(res.header('warning') ?? '', /^305 /);
    assert.equal((await bridge.health()).dialogs, 0, 'no dialog left behind');
  });

  it('an uploaded busy greeting (any PCM WAV, here 16 kHz from sox) is what the next caller hears; other formats get 415', async () => {
    const wav = execFileSync('sox', ['-n', '-r', '16000', '-c', '1', '-b', '16', '-e', 'signed-integer', '-t', 'wav', '-', 'synth', '1', 'sine', '700', 'vol', '0.5']);
    const url = `${bridge.httpUrl}/mailboxes/alice@lab.example/greetings/busy`;
    const put = await fetch(url, { method: 'PUT', headers: { 'content-type': 'audio/wav' }, body: wav });
    assert.equal(put.status, 204);
    const bad = await fetch(url, { method: 'PUT', headers: { 'content-type': 'audio/wav' }, body: Buffer.from('RIFF....WAVEnot really') });
    assert.equal(bad.status, 415);
    assert.equal((await fetch(`${bridge.httpUrl}/mailboxes/mallory@lab.example/greetings/busy`, { method: 'PUT', headers: { 'content-type': 'audio/wav' }, body: wav })).status, 404);
    const { result, rtp } = await deposit('alice', 'b', 'bye', 'bob');
    ok(result);
    const heard = ulawDecode(Buffer.concat(rtp.packets.filter((p) => p.pt === 0).map((p) => p.payload)));
    assert.ok(goertzel(heard, 700) > 100 * goertzel(heard, 480), 'the uploaded 700 Hz greeting, not the default one, was played');
  });

  it('non-subscribers have no mailbox: 404 over HTTP', async () => {
    assert.equal((await bridge.messages('mallory')).status, 404);
    const r = await fetch(`${bridge.httpUrl}/mailboxes/bob@other.example/messages`);
    assert.equal(r.status, 404);
  });
});

/** ITU-T G.711 A-law expansion (independent of the bridge's codec). */
function alawDecode(data: Uint8Array): Int16Array {
  const out = new Int16Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const a = data[i]! ^ 0x55;
    const seg = (a & 0x70) >> 4;
    let t = (a & 0x0f) << 4;
    t = seg === 0 ? t + 8 : (t + 0x108) << (seg - 1);
    out[i] = a & 0x80 ? t : -t;
  }
  return out;
}
