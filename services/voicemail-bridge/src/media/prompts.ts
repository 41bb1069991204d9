/**
 * The prompts callers hear. Spoken with espeak-ng (Debian's `espeak-ng` package) when it is
 * installed and speech is enabled, resampled to 8 kHz; otherwise tone sequences stand in so
 * the engine works on a bare machine. Generated once and cached; counts are spoken on demand.
 */
import { spawn } from 'node:child_process';
import { readWav, resampleTo8k } from './wav.js';

export type PromptName = 'busy' | 'unavailable' | 'beep' | 'menu' | 'message' | 'end' | 'deleted' | 'saved' | 'goodbye';

const TEXT: Readonly<Record<Exclude<PromptName, 'beep'>, string>> = {
  busy: 'The person you are calling is busy. Please leave a message after the tone. Press pound when you are done.',
  unavailable: 'The person you are calling is not available. Please leave a message after the tone. Press pound when you are done.',
  menu: 'Press 1 to hear the next message, 7 to delete it, 9 to save it, pound to hang up.',
  message: 'Message.',
  end: 'There are no more messages.',
  deleted: 'Message deleted.',
  saved: 'Message saved.',
  goodbye: 'Goodbye.',
};

/** A sine tone at `freq` Hz for `ms`, with 5 ms ramps so it does not click. */
export function tone(freq: number, ms: number, amplitude = 8000): Int16Array {
  const n = Math.round((ms * 8000) / 1000);
  const out = new Int16Array(n);
  const ramp = 40;
  for (let i = 0; i < n; i++) {
    const env = Math.min(1, i / ramp, (n - 1 - i) / ramp);
    out[i] = Math.round(amplitude * env * Math.sin((2 * Math.PI * freq * i) / 8000));
  }
  return out;
}

export function silence(ms: number): Int16Array {
  return new Int16Array(Math.round((ms * 8000) / 1000));
}

export function concat(parts: Int16Array[]): Int16Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Int16Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Tone stand-ins: a falling pair for greetings, short pips for counts. */
function fallback(name: PromptName): Int16Array {
  switch (name) {
    case 'beep':
      return tone(1000, 250, 10000);
    case 'busy':
    case 'unavailable':
      return concat([tone(480, 300), silence(100), tone(620, 300), silence(300)]);
    default:
      return concat([tone(660, 120), silence(120)]);
  }
}

function countFallback(n: number): Int16Array {
  const parts: Int16Array[] = [];
  for (let i = 0; i < Math.min(n, 20); i++) parts.push(tone(880, 80), silence(120));
  parts.push(silence(300));
  return concat(parts);
}

export interface PromptLibraryOptions {
  speech: boolean;
  voice: string;
  /** espeak-ng executable (tests may point at a missing one to force tones). */
  espeak?: string;
}

export class PromptLibrary {
  private readonly opts: PromptLibraryOptions;
  private readonly cache: Map<string, Int16Array>;
  private speechWorks: boolean;

  constructor(opts: PromptLibraryOptions) {
    this.opts = opts;
    this.cache = new Map();
    this.speechWorks = opts.speech;
  }

  /** True when prompts are spoken (espeak-ng ran), false when tones stand in. */
  get spoken(): boolean {
    return this.speechWorks;
  }

  /** Renders every fixed prompt once, so calls never wait for espeak-ng. */
  async preload(): Promise<void> {
    const names: PromptName[] = ['beep', 'busy', 'unavailable', 'menu', 'message', 'end', 'deleted', 'saved', 'goodbye'];
    const rendered = await Promise.all(names.map((n) => this.render(n)));
    names.forEach((n, i) => this.cache.set(n, rendered[i]!));
  }

  get(name: PromptName): Int16Array {
    return this.cache.get(name) ?? fallback(name);
  }

  /** "You have N new messages" (spoken, or N pips). */
  async count(n: number): Promise<Int16Array> {
    const key = `count:${n}`;
    const hit = this.cache.get(key);
    if (hit !== undefined) return hit;
    const text = n === 0 ? 'You have no new messages.' : n === 1 ? 'You have one new message.' : `You have ${n} new messages.`;
    const spoken = this.speechWorks ? await this.speak(text) : null;
    const out = spoken ?? countFallback(n);
    if (n <= 100) this.cache.set(key, out);
    return out;
  }

  private async render(name: PromptName): Promise<Int16Array> {
    if (name === 'beep' || !this.speechWorks) return fallback(name);
    return (await this.speak(TEXT[name])) ?? fallback(name);
  }

  /** espeak-ng to stdout (WAV, 22050 Hz), resampled to 8 kHz; null (and tones from then on) if it fails. */
  private speak(text: string): Promise<Int16Array | null> {
    return new Promise((resolve) => {
      const child = spawn(this.opts.espeak ?? 'espeak-ng', ['-v', this.opts.voice, '-s', '160', '--stdout', text], { stdio: ['ignore', 'pipe', 'ignore'] });
      const chunks: Buffer[] = [];
      child.stdout.on('data', (d: Buffer) => chunks.push(d));
      child.on('error', () => {
        this.speechWorks = false;
        resolve(null);
      });
      child.on('close', (code) => {
        if (code !== 0) {
          this.speechWorks = false;
          resolve(null);
          return;
        }
        const r = readWav(Buffer.concat(chunks));
        if (!r.ok) {
          this.speechWorks = false;
          resolve(null);
          return;
        }
        resolve(concat([resampleTo8k(r.audio.samples, r.audio.sampleRate), silence(200)]));
      });
    });
  }
}
