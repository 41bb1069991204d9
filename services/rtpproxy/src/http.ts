// /health and /metrics over HTTP (fastify). Health is "ok" while the ng socket is bound
// and the media workers run; it also reports sessions and port usage for a quick look.
import Fastify, { type FastifyInstance } from 'fastify';
import type { RtpSessionTable } from './media/rtp-session-table.js';
import type { RelayMetrics } from './metrics.js';

export async function startHttp(
  address: string,
  port: number,
  table: RtpSessionTable,
  metrics: RelayMetrics,
): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  app.get('/health', async () => {
    const t = table.totals();
    return { status: 'ok', sessions: t.sessions, portPairsInUse: t.portsInUse, portPairsTotal: t.portsTotal };
  });
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  await app.listen({ host: address, port });
  return app;
}
