import assert from 'node:assert/strict';
import { test } from 'node:test';
import { growthByThirds, parseHeapMetrics, parseProcStatusMemory, promValue } from './proxy-memory.js';

test('VmRSS and VmHWM of /proc/PID/status, in bytes', () => {
  const status = 'Name:\tnode\nVmPeak:\t 3384032 kB\nVmHWM:\t  726872 kB\nVmRSS:\t  720400 kB\nThreads:\t11\n';
  assert.deepEqual(parseProcStatusMemory(status), { rssBytes: 720400 * 1024, peakRssBytes: 726872 * 1024 });
  // A kernel thread or a zombie has no VmRSS line.
  assert.ok(Number.isNaN(parseProcStatusMemory('Name:\tkthreadd\n').rssBytes));
});

test('heap figures from the admin API metrics, with or without a mark-compact so far', () => {
  const text = [
    '# HELP sip_proxy_process_nodejs_heap_size_used_bytes Process heap size used from Node.js in bytes.',
    '# TYPE sip_proxy_process_nodejs_heap_size_used_bytes gauge',
    'sip_proxy_process_nodejs_heap_size_used_bytes 455571312',
    'sip_proxy_process_nodejs_heap_size_total_bytes 581722112',
    'sip_proxy_process_nodejs_external_memory_bytes 122239000',
    'sip_proxy_process_nodejs_gc_duration_seconds_count{kind="minor"} 62',
    'sip_proxy_process_nodejs_gc_duration_seconds_count{kind="major"} 3',
    '',
  ].join('\n');
  assert.deepEqual(parseHeapMetrics(text), { heapUsedBytes: 455571312, heapTotalBytes: 581722112, externalBytes: 122239000, majorGcs: 3 });
  assert.equal(promValue(text, 'sip_proxy_process_nodejs_gc_duration_seconds_count', 'kind="minor"'), 62);
  assert.ok(Number.isNaN(promValue(text, 'sip_proxy_process_nodejs_gc_duration_seconds_count', 'kind="weakcb"')));
  // The HELP line names the metric too: only sample lines count.
  assert.ok(Number.isNaN(promValue('# HELP x_total 5\n', 'x_total')));
});

test('growth by thirds: means of the first and last third of the samples', () => {
  assert.deepEqual(growthByThirds([1, 2, 3, 4, 5, 6, 7, 8, 9]), { first: 2, last: 8 });
  assert.deepEqual(growthByThirds([10, 20, 40, 50]), { first: 10, last: 50 });
  assert.deepEqual(growthByThirds([7]), { first: 7, last: 7 });
  assert.ok(Number.isNaN(growthByThirds([]).first));
});
