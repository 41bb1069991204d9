/**
 * RFC 4475 torture messages against a running proxy, over UDP, each as one datagram. The
 * expectations come from packages/sip/test-fixtures/rfc4475/expected.json (see its README):
 * malformed requests with a usable Via are answered 400 (505 for a bad version) with a reason
 * naming the fault; without a usable Via, or for a malformed response, the proxy stays silent;
 * 416 / 420 (with Unsupported) / 483 are answered by the proxy; well-formed messages are not
 * rejected. Afterwards the proxy still answers OPTIONS: nothing crashed it.
 *
 * The messages name foreign hosts (192.0.2.x, example.com) the proxy would forward to, so the
 * proxy runs in an isolated network (a namespace with only loopback): nothing leaves the box.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { createBackend, repoRoot, type Backend, type RunningProxy } from '../harness/index.js';
import { failureTracker } from './support.js';
import type { ProbeAnswer, ProbeResult } from './torture-probe.js';

const FIXTURES = join(repoRoot, 'packages', 'sip', 'test-fixtures', 'rfc4475');
const PROBE = fileURLToPath(new URL('./torture-probe.js', import.meta.url));
/** How long to collect answers per message. Forwarding attempts fail at once in isolation. */
const WAIT_MS = 400;

interface Expectation {
  section: string;
  type: 'request' | 'response';
  parse: 'ok' | 'error';
  status?: number;
  partial?: boolean;
  response?: number | null;
  responder?: 'proxy' | 'registrar' | 'uas';
  note?: string;
}

/** Statuses that mean "your message is bad" rather than a routing outcome. */
const REJECTIONS = new Set([400, 416, 420, 483, 505, 513]);

function describeAnswers(a: readonly ProbeAnswer[]): string {
  return a.length === 0 ? 'no answer' : a.map((x) => x.startLine).join(' | ');
}

const TORTURE_T1 = 20;

const expected = JSON.parse(readFileSync(join(FIXTURES, 'expected.json'), 'utf8')) as { messages: Record<string, Expectation> };
const names = Object.keys(expected.messages).filter((n) => existsSync(join(FIXTURES, `${n}.dat`)));

describe('proxy: RFC 4475 torture messages over UDP', () => {
  let lab: Backend;
  let proxy: RunningProxy;
  let result: ProbeResult;
  const t = failureTracker();

  before(async () => {
    lab = await createBackend('proxy-torture');
    // A small T1 keeps Timer J (64*T1) short: RFC 4475 reuses a transaction key (unkscm and
    // novelsc share branch, sent-by and method), and the probe waits the earlier transaction out
    // so the later message is processed as the new request it is, not absorbed as a retransmission.
    proxy = await lab.startProxy({ isolated: true, timers: { t1: TORTURE_T1 } });
    const run = await proxy.runInNetwork(
      PROBE,
      [proxy.host, String(proxy.port), FIXTURES, String(WAIT_MS), `--transaction-wait=${64 * TORTURE_T1 + 200}`, ...names],
      180_000,
    );
    const line = run.stdout.split('\n').find((l) => l.startsWith('RESULT '));
    assert.ok(line, `torture probe failed (exit ${run.code}): ${run.stderr}${run.stdout}`);
    result = JSON.parse(line.slice('RESULT '.length)) as ProbeResult;
  });

  after(async () => {
    await lab?.close({ failed: t.failed() });
  });

  it('covers every fixture of expected.json', () => {
    assert.equal(names.length, Object.keys(expected.messages).length, 'a fixture file is missing');
    assert.ok(names.length >= 49, `RFC 4475 §3 has 49 messages, found ${names.length}`);
  });

  for (const name of names) {
    const e = expected.messages[name]!;
    const what = e.parse === 'error'
      ? (e.partial ? `answered ${e.status}` : 'silently dropped')
      : e.type === 'response' ? 'not answered (a response)'
        : e.response != null && e.responder === 'proxy' ? `answered ${e.response}` : 'not rejected';
    it(`${name} (§${e.section}): ${what}`, t.track(async () => {
      assert.equal(result.errors[name], undefined, result.errors[name]);
      const answers = result.answers[name] ?? [];
      const got = describeAnswers(answers);
      const finals = answers.filter((a) => a.status !== null && a.status >= 200);
      if (e.type === 'response' || (e.parse === 'error' && !e.partial)) {
        // Nothing to answer: a response is never answered (RFC 3261 §16.7 forwards or drops it),
        // and a request without a usable Via has no address for an answer.
        assert.equal(answers.filter((a) => a.status !== null).length, 0, `${name}: expected silence, got ${got}`);
        return;
      }
      if (e.parse === 'error') {
        assert.ok(finals.length >= 1, `${name}: expected ${e.status}, got ${got}`);
        assert.equal(finals[0]!.status, e.status, `${name}: expected ${e.status}, got ${got}`);
        assert.ok((finals[0]!.reason ?? '').trim().length > 0, `${name}: the reason phrase should name the fault: ${got}`);
        return;
      }
      if (e.response != null && e.responder === 'proxy') {
        assert.ok(finals.length >= 1, `${name}: expected ${e.response}, got ${got}`);
        assert.equal(finals[0]!.status, e.response, `${name}: expected ${e.response}, got ${got}`);
        if (e.response === 420) {
          // RFC 3261 §8.2.2.3: 420 lists the unsupported extensions.
          assert.ok((finals[0]!.headers.unsupported ?? []).length > 0, `${name}: 420 without Unsupported`);
        }
        return;
      }
      // Well-formed: processed or forwarded normally. In the isolated network the forward
      // fails, so a routing answer (404, 408, 476-480, 5xx) is fine; a rejection is not.
      const rejected = finals.filter((a) => REJECTIONS.has(a.status!));
      assert.equal(rejected.length, 0, `${name}: a well-formed message was rejected: ${got}`);
    }));
  }

  it('still answers OPTIONS after all of them (never crashed)', t.track(async () => {
    assert.equal(result.optionsAfter, 200, `OPTIONS after the torture run: ${result.optionsAfter}\n${proxy.logTail()}`);
    assert.ok(proxy.alive(), 'proxy process exited');
  }));
});
