/**
 * The built-in engine's behaviours the SIPp suites do not pin down, run in-process on the
 * engine harness (fake SIP transport, manual clock, loopback RTP): the maximum message
 * length cuts a recording, a recording below the minimum is never stored, an MWI refresh
 * keeps the subscription and expiry ends it with a terminated NOTIFY (RFC 6665 §4.2.2), the
 * mailbox IVR announces the count of new messages and `9` files a message under old, and
 * `GET /metrics` serves the bridge's counters as Prometheus text.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { SipRequest } from '@voip/sip';
import { loadConfig } from '../config.js';
import { decodeG711 } from '../media/g711.js';
import { PromptLibrary } from '../media/prompts.js';
import { EngineHarness, okTo, requestText, rtpPacket, telephoneEvent } from './engine-harness.js';

/** Records which counts the IVR announced. */
class CountingPrompts extends PromptLibrary {
  readonly announced: number[] = [];
  override async count(n: number): Promise<Int16Array> {
    this.announced.push(n);
    return super.count(n);
  }
}

/** A 1 kHz PCMU frame, so recordings are not silence. */
function toneFrame(): Buffer {
  const b = Buffer.alloc(160);
  // µ-law of a coarse 1 kHz square wave at about -12 dBFS (0x9f / 0x1f).
  for (let i = 0; i < 160; i++) b[i] = i % 8 < 4 ? 0x9f : 0x1f;
  return b;
}

async function eventually(check: () => Promise<boolean>, what: string, h: EngineHarness): Promise<void> {
  let ok = false;
  let pending = false;
  await h.until(() => {
    if (!pending) {
      pending = true;
      void check().then((r) => {
        ok = r;
        pending = false;
      });
    }
    return ok;
  }, what);
}

describe('voicemail engine (in-process)', { timeout: 60_000 }, () => {
  let h: EngineHarness;
  const prompts = new CountingPrompts({ speech: false, voice: 'en' });
  // The schema's lowest maximum length, as an operator would configure it.
  const maxSeconds = loadConfig({ db: 'file:none.yaml', recording: { maxSeconds: 5 } }).recording.maxSeconds;
  let seq = 0;

  before(async () => {
    h = await EngineHarness.start({ ports: [43000, 43099], prompts, settings: { maxRecordingSeconds: maxSeconds, minRecordingSeconds: 1 } });
  });
  after(async () => {
    await h?.close();
  });

  /** Calls `user`, ACKs the 200, waits out the greeting; returns the call's ids and media port. */
  async function depositCall(user: string): Promise<{ callId: string; toTag: string; port: number }> {
    const callId = `eng-${++seq}`;
    h.inject(requestText({ method: 'INVITE', user, callId, fromTag: `f${seq}`, cseq: 1, body: h.offer() }));
    const ok = await h.response(callId, 'INVITE', 200);
    const toTag = ok.to.tag!;
    h.inject(requestText({ method: 'ACK', user, callId, fromTag: `f${seq}`, toTag, cseq: 1 }));
    // The greeting and beep play (tone prompts: 1.25 s); recording starts as they end.
    for (let f = 0; f < 500 && h.media.size > 0; f++) h.advance(20);
    assert.equal(h.media.size, 0, 'the greeting ended');
    return { callId, toTag, port: EngineHarness.mediaPort(ok) };
  }

  it(`recording.maxSeconds (${maxSeconds} s, the minimum) cuts the message and we hang up`, async () => {
    const c = await depositCall('bbob');
    const frame = toneFrame();
    let sent = 0;
    let bye: SipRequest | undefined;
    // The caller talks for up to 8 s, one packet per 20 ms of (fake) time; the bridge stops
    // recording at the limit and hangs up once the message is stored.
    for (; sent < 400; sent++) {
      bye = h.take((m): m is SipRequest => 'method' in m && m.method === 'BYE' && m.callId === c.callId);
      if (bye !== undefined || h.engine.activeCalls === 0) break;
      await h.sendRtp(c.port, [rtpPacket(sent, sent * 160, 0xabc, 0, frame)]);
      h.advance(20);
    }
    bye ??= await h.request(c.callId, 'BYE');
    h.inject(okTo(bye));
    assert.ok(sent * 0.02 > maxSeconds + 0.5, `the caller talked for ${sent * 0.02} s`);
    const list = await h.store.list('bob', 'example.com');
    assert.equal(list.length, 1);
    const d = list[0]!.duration_s;
    assert.ok(d <= maxSeconds + 0.02 && d >= maxSeconds - 0.1, `message of ${d} s, cut at ${maxSeconds} s`);
  });

  it('a recording shorter than recording.minSeconds is dropped by the engine (no message, no MWI change)', async () => {
    const before = await h.store.list('carol', 'example.com');
    const c = await depositCall('bcarol');
    const frame = toneFrame();
    const audio: Buffer[] = [];
    for (let s = 0; s < 25; s++) audio.push(rtpPacket(s, s * 160, 0xdef, 0, frame)); // 0.5 s
    await h.sendRtp(c.port, audio);
    for (let r = 0; r < 3; r++) h.rtp.send(rtpPacket(25 + r, 25 * 160, 0xdef, 101, telephoneEvent(11, true, 800)), c.port, '127.0.0.1');
    h.inject(okTo(await h.request(c.callId, 'BYE')));
    await h.until(() => h.engine.activeCalls === 0, 'the call ended');
    assert.deepEqual(await h.store.list('carol', 'example.com'), before);
    const dropped = await h.metrics.registry.getSingleMetricAsString('voicemail_recordings_dropped_total');
    assert.match(dropped, /voicemail_recordings_dropped_total\{why="too-short"\} 1$/m);
  });

  it('MWI: a refresh with a non-zero Expires keeps the subscription; expiry sends terminated;reason=timeout', async () => {
    const callId = 'mwi-refresh';
    const sub = (cseq: number, expires: number, toTag?: string): string =>
      requestText({ method: 'SUBSCRIBE', user: 'bob', callId, fromTag: 'mwi-f', toTag, cseq, extra: ['Event: message-summary', 'Accept: application/simple-message-summary', `Expires: ${expires}`] });
    h.inject(sub(1, 60));
    const ok = await h.response(callId, 'SUBSCRIBE', 200);
    assert.equal(ok.headers.get('expires'), '60');
    const toTag = ok.to.tag!;
    const first = await h.request(callId, 'NOTIFY');
    assert.match(first.headers.get('subscription-state') ?? '', /^active;expires=60$/);
    assert.match(first.body.toString(), /^Messages-Waiting: yes\r$/m, 'bob has the message of the first test');
    h.inject(okTo(first));

    h.advance(50_000);
    h.inject(sub(2, 120, toTag));
    assert.equal((await h.response(callId, 'SUBSCRIBE', 200)).headers.get('expires'), '120');
    const refreshed = await h.request(callId, 'NOTIFY');
    assert.match(refreshed.headers.get('subscription-state') ?? '', /^active;expires=120$/);
    h.inject(okTo(refreshed));

    // Past the first 60 s and up to just before the refreshed 120 s: still subscribed.
    h.advance(119_000);
    await h.until(() => true, 'a loop turn');
    assert.equal(h.take((m) => 'method' in m && m.callId === callId), undefined, 'no NOTIFY before expiry');
    assert.equal(h.mwi.size, 1);

    h.advance(2000);
    const last = await h.request(callId, 'NOTIFY');
    assert.equal(last.headers.get('subscription-state'), 'terminated;reason=timeout');
    h.inject(okTo(last));
    await h.until(() => h.mwi.size === 0 && h.ua.dialogCount === 0, 'subscription and its dialog gone');
  });

  it('mailbox IVR: announces the count of new messages; 1 plays, 9 saves (moves to old)', async () => {
    // Two messages for carol, left the ordinary way.
    for (let k = 0; k < 2; k++) {
      const c = await depositCall('ucarol');
      const audio: Buffer[] = [];
      for (let s = 0; s < 60; s++) audio.push(rtpPacket(s, s * 160, 0x100 + k, 0, toneFrame()));
      await h.sendRtp(c.port, audio);
      h.inject(requestText({ method: 'BYE', user: 'ucarol', callId: c.callId, fromTag: `f${seq}`, toTag: c.toTag, cseq: 2 }));
      await h.response(c.callId, 'BYE', 200);
    }
    const stored = await h.store.list('carol', 'example.com');
    assert.deepEqual(stored.map((m) => m.folder), ['new', 'new']);

    const callId = 'ivr-1';
    const pai = ['P-Asserted-Identity: <sip:carol@example.com>'];
    h.inject(requestText({ method: 'INVITE', user: 'carol', callId, fromTag: 'ivr-f', cseq: 1, body: h.offer(), extra: pai }));
    const ok = await h.response(callId, 'INVITE', 200);
    const toTag = ok.to.tag!;
    h.inject(requestText({ method: 'ACK', user: 'carol', callId, fromTag: 'ivr-f', toTag, cseq: 1 }));
    await h.until(() => h.media.size === 1, 'the announcement started');
    h.received.length = 0;
    await h.play(1400);
    // Tone prompts: count(2) is two 200 ms pips and 300 ms of silence, the menu one 240 ms pip.
    await h.until(() => h.received.length >= 47, 'announcement RTP received');
    assert.deepEqual(prompts.announced, [2], 'the count of new messages was announced');
    // Tone prompts: one 880 Hz pip per new message, then the menu pip.
    const pcm = new Int16Array(160);
    let bursts = 0;
    let loud = false;
    for (const p of h.received) {
      decodeG711('PCMU', p.subarray(12), pcm);
      const now = pcm.some((v) => Math.abs(v) > 2000);
      if (now && !loud) bursts++;
      loud = now;
    }
    assert.equal(bursts, 3, 'two count pips and the menu pip reached the caller');

    let cseq = 2;
    const info = (digit: string): void => {
      h.inject(requestText({ method: 'INFO', user: 'carol', callId, fromTag: 'ivr-f', toTag, cseq: cseq++, body: `Signal=${digit}\r\nDuration=160\r\n`, contentType: 'application/dtmf-relay' }));
    };
    info('1');
    await h.response(callId, 'INFO', 200);
    await h.until(() => h.media.size === 1, 'the message is playing');
    await h.play(3000); // "message" prompt and the 1.2 s message, to the end
    assert.deepEqual((await h.store.list('carol', 'example.com')).map((m) => m.folder), ['new', 'new'], 'hearing a message does not file it');
    info('9');
    await h.response(callId, 'INFO', 200);
    await eventually(async () => (await h.store.list('carol', 'example.com')).some((m) => m.folder === 'old'), 'message saved', h);
    const after9 = await h.store.list('carol', 'example.com');
    assert.deepEqual(after9.map((m) => [m.id, m.folder]).sort(), [
      [stored[0]!.id, 'old'],
      [stored[1]!.id, 'new'],
    ]);
    info('#');
    await h.response(callId, 'INFO', 200);
    h.advance(2000);
    h.inject(okTo(await h.request(callId, 'BYE')));
    await h.until(() => h.engine.activeCalls === 0, 'the IVR call ended');
  });

  it('GET /metrics serves Prometheus text with the bridge counters', async () => {
    const res = await h.http.inject({ method: 'GET', url: '/metrics' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    const text = res.body;
    for (const re of [
      /^# TYPE voicemail_messages_recorded_total counter$/m,
      /^voicemail_messages_recorded_total 3$/m,
      /^voicemail_recordings_dropped_total\{why="too-short"\} 1$/m,
      /^voicemail_calls_total\{kind="deposit",how="our-bye"\} 2$/m,
      /^voicemail_calls_total\{kind="deposit",how="caller-bye"\} 2$/m,
      /^voicemail_calls_total\{kind="access",how="our-bye"\} 1$/m,
      /^voicemail_message_seconds_count 3$/m,
      /^voicemail_active_calls 0$/m,
      /^voicemail_dialogs 0$/m,
      /^voicemail_subscribers 2$/m,
      /^voicemail_mwi_notifies_total\{what="sent"\} \d+$/m,
      /^voicemail_rtp_frames_total\{what="sent"\} [1-9]\d*$/m,
      /^voicemail_process_cpu_seconds_total /m,
    ]) {
      assert.match(text, re);
    }
  });
});
