import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { buildSippArgs, parseSippRttCsv, parseSippStatCsv, statTimeMs, totalsFromRow } from './sipp-runner.js';
import { percentile, steadyWindow } from './stats.js';

const HEADER = 'StartTime;CurrentTime;TotalCallCreated;SuccessfulCall(C);FailedCall(C);FailedUnexpectedMessage(C);Retransmissions(C);';
const t = (s: number): string => `2026-11-24\t23:23:17.000000\t${s.toFixed(6)}`;
const row = (at: number, created: number, ok: number, failed = 0): string =>
  `${t(1000)};${t(at)};${created};${ok};${failed};0;${failed * 2};`;

describe('SIPp statistics file', () => {
  const text = [HEADER, row(1001, 900, 890), row(1002, 1900, 1890), row(1003, 2900, 2890), row(1004, 3000, 2995, 5), row(1004.5, 3000, 2995, 5)].join('\n');
  const rows = parseSippStatCsv(text);

  it('keys every row by the header', () => {
    assert.equal(rows.length, 5);
    assert.equal(rows[1]!.get('TotalCallCreated'), '1900');
    assert.equal(statTimeMs(rows[0]!, 'CurrentTime'), 1_001_000);
    assert.ok(Number.isNaN(statTimeMs(rows[0]!, 'NoSuchColumn')));
  });

  it('reads the final counters', () => {
    const totals = totalsFromRow(rows[rows.length - 1]);
    assert.equal(totals.created, 3000);
    assert.equal(totals.successful, 2995);
    assert.equal(totals.failed, 5);
    assert.equal(totals.retransmissions, 10);
    assert.equal(totalsFromRow(undefined).created, 0);
  });

  it('measures the steady window from the warm-up to the end of call creation', () => {
    const w = steadyWindow(rows, 3000, 1500);
    assert.deepEqual(w, { startMs: 1_002_000, endMs: 1_003_000, created: 1000, successful: 1000 });
  });

  it('falls back to the whole creation period for a short run', () => {
    const w = steadyWindow(rows, 3000, 10_000);
    assert.deepEqual(w, { startMs: 1_000_000, endMs: 1_004_000, created: 3000, successful: 2995 });
    assert.equal(steadyWindow([], 3000, 0), null);
  });
});

describe('SIPp response times', () => {
  it('keeps the asked rtd only', () => {
    const rtt = parseSippRttCsv('Date_ms;response_time_ms;rtd_no\n4.001;0;1\n4.002;3;1\n4.003;9;2\nbroken\n');
    assert.deepEqual(rtt, [0, 3]);
  });
  it('percentile is nearest-rank', () => {
    const v = Array.from({ length: 100 }, (_, i) => 100 - i);
    assert.equal(percentile(v, 50), 50);
    assert.equal(percentile(v, 99), 99);
    assert.equal(percentile(v, 100), 100);
    assert.equal(percentile([7], 1), 7);
    assert.ok(Number.isNaN(percentile([], 50)));
  });
});

describe('buildSippArgs', () => {
  it('places the remote right after the scenario and passes keys, rate and tracing', () => {
    const args = buildSippArgs({
      role: 'uac',
      scenarioFile: '/s/uac.xml',
      localIp: '127.0.0.1',
      localPort: 5070,
      remote: '127.0.0.1:5060',
      rate: 2000,
      maxCalls: 30000,
      keys: { uas: '127.0.0.1:5090' },
      recvTimeoutMs: 5000,
      traceRtt: true,
      workDir: '/tmp',
    });
    assert.deepEqual(args.slice(0, 3), ['-sf', '/s/uac.xml', '127.0.0.1:5060']);
    const after = (flag: string): string | undefined => args[args.indexOf(flag) + 1];
    assert.equal(after('-r'), '2000');
    assert.equal(after('-m'), '30000');
    assert.equal(after('-buff_size'), '4194304');
    assert.equal(after('-recv_timeout'), '5000');
    assert.deepEqual(args.slice(args.indexOf('-key'), args.indexOf('-key') + 3), ['-key', 'uas', '127.0.0.1:5090']);
    assert.ok(args.includes('-trace_stat') && args.includes('-trace_rtt'));
  });
  it('a UAS gets no remote, rate or rtt tracing', () => {
    const args = buildSippArgs({ role: 'uas', scenarioFile: 'u.xml', localIp: '::1', localPort: 1, recvTimeoutMs: 1, traceRtt: false, workDir: '.' });
    assert.equal(args[2], '-i');
    assert.ok(!args.includes('-r') && !args.includes('-trace_rtt'));
  });
});
