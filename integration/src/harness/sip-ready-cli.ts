#!/usr/bin/env node
/**
 * `node sip-ready-cli.js HOST PORT TIMEOUT_MS [udp|tcp]`: exits 0 once HOST:PORT answers
 * OPTIONS with 200, 1 otherwise. The readiness probe for a proxy inside an isolated network
 * (a namespace or a container without network) that the test process cannot reach itself.
 */
import { waitForSipReady } from './sip-socket.js';

const [host, port, timeout, transport] = process.argv.slice(2);
try {
  await waitForSipReady(host ?? '127.0.0.1', Number(port), {
    timeoutMs: Number(timeout ?? 15_000),
    transport: transport === 'tcp' ? 'tcp' : 'udp',
  });
  process.exit(0);
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
}
