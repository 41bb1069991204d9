/**
 * A standalone RTP party for tests that place endpoints in network namespaces
 * (`ip netns exec NS node rtp-endpoint-cli.js '<json>'`): binds, prints `ready`, waits for a
 * `go` line on stdin (so that both parties of a call are bound before either sends: a party
 * still starting would lose the other's first packets), streams G.711 at 50 packets/s to a
 * target, keeps listening a little longer, then prints one JSON line with what it saw.
 */
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { RtpEndpoint, sleep } from './support.js';

interface Args {
  bind: string;
  port: number;
  to: string;
  toPort: number;
  count: number;
  /** Keep receiving this long after the last packet was sent. */
  lingerMs: number;
  /**
   * Keep receiving past lingerMs until this many packets arrived (at most 5 s more): the two
   * parties start in separate processes, so the peer's last packets can trail ours by the
   * difference in their start-up times.
   */
  expect?: number;
}

const EXPECT_DEADLINE_MS = 5_000;

async function main(): Promise<void> {
  const a = JSON.parse(process.argv[2] ?? '{}') as Args;
  const ep = await RtpEndpoint.bind(a.bind, a.port);
  const lines = createInterface({ input: process.stdin });
  const go = once(lines, 'line');
  process.stdout.write('ready\n');
  await go;
  lines.close();
  await ep.stream(a.to, a.toPort, a.count);
  await sleep(a.lingerMs);
  const deadline = Date.now() + EXPECT_DEADLINE_MS;
  while (a.expect !== undefined && ep.received < a.expect && Date.now() < deadline) await sleep(20);
  process.stdout.write(`${JSON.stringify({ sent: a.count, received: ep.received, sources: [...ep.sources] })}\n`);
  ep.close();
}

main().catch((e: unknown) => {
  process.stderr.write(`${String(e)}\n`);
  process.exit(1);
});
