/**
 * In-process micro-benchmark of the whole proxy path (transport receive → parse → transaction
 * → routing → forward → serialize) for one complete call: INVITE, 100, 180, 200, ACK, BYE, 200,
 * the stateful, record-routed flow `npm run bench:proxy` drives with SIPp. A fake transport
 * stands in for the sockets, so the figure is our own CPU per call without the kernel's
 * loopback and SIPp's wake-ups; it is repeatable on a busy machine, for comparing changes.
 *
 *   node services/proxy/dist/proxy-path.bench.js [calls]
 *
 * Not a test (no timing thresholds in tests); run by hand or with --cpu-prof.
 */
import { silentLogger } from '@voip/sip';
import { setImmediate as tick } from 'node:timers/promises';
import { parseConfig } from './config.js';
import { startProxy } from './server.js';
import { LoopbackFakeUdp, syntheticCall } from './warm-up.js';

/** warm-up.ts' synthetic call; here a call the proxy did not relay is a broken path, not a skipped step. */
function oneCall(t: LoopbackFakeUdp, n: number): void {
  if (!syntheticCall(t, n)) throw new Error(`call ${n} was not relayed`);
}

async function main(): Promise<void> {
  const calls = Number(process.argv[2] ?? 50_000);
  // The overload guard is off: 500 calls per event-loop turn look like an overloaded loop to it
  // (event-loop delay, pending transactions), and it would answer 503 instead of relaying.
  const config = parseConfig({ listen: ['udp:127.0.0.1:5060'], admin: { listen: '' }, logLevel: 'silent', overload: { enabled: false } });
  let fake: LoopbackFakeUdp | null = null;
  const proxy = await startProxy(config, silentLogger, { transports: (host) => [(fake = new LoopbackFakeUdp(host))] });
  const t = fake!;
  // Warm-up: let V8 optimize the path before measuring.
  for (let i = 0; i < 5_000; i++) oneCall(t, i);
  await tick();
  let n = 5_000;
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  for (let done = 0; done < calls; done += 500) {
    for (let i = 0; i < 500; i++) oneCall(t, n++);
    // Let timers run (transaction clean-up) as they would between datagrams.
    await tick();
  }
  const cpu = process.cpuUsage(cpu0);
  const wall = performance.now() - wall0;
  const us = (cpu.user + cpu.system) / calls;
  process.stdout.write(
    `proxy path: ${us.toFixed(1)} µs CPU per call (${calls} calls, ${(calls / (wall / 1000)).toFixed(0)} calls/s on one core, ` +
      `heap ${(process.memoryUsage().heapUsed / 1e6).toFixed(0)} MB)\n`,
  );
  await proxy.close();
}

await main();
