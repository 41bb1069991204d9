/**
 * Issue 10 "default greetings are generated with espeak-ng (Debian) when present": with speech
 * on (the default; `--no-speech` turns it off) the engine's prompts are spoken, and the
 * greeting a caller of `b<user>` receives over RTP is speech — its 20 ms frames are not the
 * tone fallback's pure 480/620 Hz tones or the 1000 Hz beep. espeak-ng is a CI dependency
 * (.ci/run, docker/node-service/Dockerfile): when it is missing this test fails, it does not
 * skip.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../config.js';
import { decodeG711 } from '../media/g711.js';
import { PromptLibrary } from '../media/prompts.js';
import { EngineHarness, requestText } from './engine-harness.js';

/** Share of a frame's energy at `freq` (Goertzel): about 1 for a pure tone at freq, small for speech. */
function toneShare(x: Int16Array, freq: number): number {
  const n = x.length;
  // Generalized Goertzel: the exact frequency, not the nearest of the frame's 50 Hz bins.
  const w = (2 * Math.PI * freq) / 8000;
  const coeff = 2 * Math.cos(w);
  let s1 = 0;
  let s2 = 0;
  let energy = 0;
  for (let i = 0; i < n; i++) {
    const s0 = x[i]! + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
    energy += x[i]! * x[i]!;
  }
  const power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  return energy === 0 ? 0 : (2 * power) / n / energy;
}

describe('spoken greetings (espeak-ng)', { timeout: 60_000 }, () => {
  let h: EngineHarness;
  const cfg = loadConfig({ db: 'file:none.yaml' });

  before(async () => {
    const probe = spawnSync('espeak-ng', ['--version'], { encoding: 'utf8' });
    if (probe.error !== undefined || probe.status !== 0) {
      assert.fail(`espeak-ng is not on PATH (${probe.error?.message ?? `exit ${probe.status}`}): install Debian's espeak-ng (apt-get install espeak-ng); .ci/run and the node-service image do`);
    }
    h = await EngineHarness.start({ ports: [44000, 44019], prompts: new PromptLibrary({ speech: cfg.greetings.speech, voice: cfg.greetings.voice }) });
  });
  after(async () => {
    await h?.close();
  });

  it('speech is on by default and every prompt was spoken', () => {
    assert.equal(cfg.greetings.speech, true, 'greetings.speech defaults to true (no --no-speech)');
    assert.equal(h.prompts.spoken, true, 'espeak-ng rendered the prompts');
    // The spoken busy greeting lasts seconds; the tone stand-in is exactly 1 s.
    assert.ok(h.prompts.get('busy').length > 2 * 8000, `busy greeting of ${h.prompts.get('busy').length / 8000} s`);
  });

  it('the busy greeting a caller receives over RTP is speech, not the tone fallback', async () => {
    const callId = 'spoken-1';
    h.inject(requestText({ method: 'INVITE', user: 'bbob', callId, fromTag: 'sp', cseq: 1, body: h.offer() }));
    const ok = await h.response(callId, 'INVITE', 200);
    h.inject(requestText({ method: 'ACK', user: 'bbob', callId, fromTag: 'sp', toTag: ok.to.tag!, cseq: 1 }));
    h.received.length = 0;
    await h.play(2000);
    await h.until(() => h.received.length >= 60, 'greeting RTP');

    const pcm = new Int16Array(160);
    let loud = 0;
    let toneLike = 0;
    const levels: number[] = [];
    for (const p of h.received) {
      decodeG711('PCMU', p.subarray(12), pcm);
      let e = 0;
      for (const v of pcm) e += v * v;
      const rms = Math.sqrt(e / pcm.length);
      if (rms < 300) continue;
      loud++;
      levels.push(rms);
      const share = Math.max(...[480, 620, 1000].map((f) => toneShare(pcm, f)));
      if (share > 0.8) toneLike++;
    }
    assert.ok(loud >= 25, `${loud} voiced frames in 2 s`);
    assert.ok(toneLike <= loud / 10, `${toneLike} of ${loud} voiced frames are a pure 480/620/1000 Hz tone`);
    // Speech varies in level from frame to frame; a tone prompt is flat.
    const mean = levels.reduce((a, b) => a + b, 0) / levels.length;
    const spread = Math.sqrt(levels.reduce((a, b) => a + (b - mean) ** 2, 0) / levels.length) / mean;
    assert.ok(spread > 0.2, `frame level spread ${spread.toFixed(2)}`);
    h.inject(requestText({ method: 'BYE', user: 'bbob', callId, fromTag: 'sp', toTag: ok.to.tag!, cseq: 2 }));
    await h.response(callId, 'BYE', 200);
  });
});
