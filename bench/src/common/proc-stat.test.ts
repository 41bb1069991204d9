import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cpuSecondsAt, listProcessTree, parseProcStat, ProcessTreeCpuSampler, treeCpuTicks } from './proc-stat.js';

function statLine(pid: number, comm: string, ppid: number, utime: number, stime: number, cutime = 0, cstime = 0): string {
  // Fields 3..17 then the rest of a real line (values beyond field 17 are irrelevant here).
  return `${pid} (${comm}) S ${ppid} ${pid} ${pid} 0 -1 4194560 100 0 0 0 ${utime} ${stime} ${cutime} ${cstime} 20 0 1 0 100 1000 200\n`;
}

describe('parseProcStat', () => {
  it('reads ppid and CPU fields', () => {
    const s = parseProcStat(statLine(42, 'kamailio', 1, 150, 30, 5, 2));
    assert.deepEqual(s, { pid: 42, ppid: 1, utime: 150, stime: 30, cutime: 5, cstime: 2 });
  });

  it('counts fields from the last parenthesis when the command name has spaces and parens', () => {
    const s = parseProcStat(statLine(7, 'node (worker) 1', 3, 11, 12));
    assert.equal(s?.ppid, 3);
    assert.equal(s?.utime, 11);
    assert.equal(s?.stime, 12);
  });

  it('rejects truncated or foreign lines', () => {
    assert.equal(parseProcStat('12 (x) S 1 2 3'), null);
    assert.equal(parseProcStat('not a stat line'), null);
  });
});

describe('process tree CPU', () => {
  const root = mkdtempSync(join(tmpdir(), 'bench-proc-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  const add = (pid: number, line: string): void => {
    mkdirSync(join(root, String(pid)));
    writeFileSync(join(root, String(pid), 'stat'), line);
  };
  // 100 -> 101, 102; 102 -> 103; 200 is unrelated.
  add(100, statLine(100, 'kamailio', 1, 10, 5, 7, 3));
  add(101, statLine(101, 'kamailio', 100, 100, 20));
  add(102, statLine(102, 'kamailio', 100, 200, 40));
  add(103, statLine(103, 'kamailio', 102, 1, 1));
  add(200, statLine(200, 'sipp', 1, 999, 999));
  mkdirSync(join(root, 'self'));

  it('finds every descendant and nothing else', () => {
    assert.deepEqual(listProcessTree(100, root).map((p) => p.pid).sort(), [100, 101, 102, 103]);
    assert.deepEqual(listProcessTree(999, root), []);
  });

  it('adds own and reaped-children CPU over the tree', () => {
    assert.equal(treeCpuTicks(listProcessTree(100, root)), 10 + 5 + 7 + 3 + 120 + 240 + 2);
    const s = new ProcessTreeCpuSampler(100, 100, root).sample();
    assert.equal(s.cpuSeconds, 3.87);
    assert.equal(s.processes, 4);
  });
});

describe('cpuSecondsAt', () => {
  const samples = [
    { atMs: 1000, cpuSeconds: 1, processes: 1 },
    { atMs: 2000, cpuSeconds: 2, processes: 1 },
    { atMs: 4000, cpuSeconds: 6, processes: 1 },
  ];
  it('interpolates between samples and clamps outside them', () => {
    assert.equal(cpuSecondsAt(samples, 500), 1);
    assert.equal(cpuSecondsAt(samples, 1500), 1.5);
    assert.equal(cpuSecondsAt(samples, 3000), 4);
    assert.equal(cpuSecondsAt(samples, 9000), 6);
    assert.equal(cpuSecondsAt([], 1000), 0);
  });
});
