/**
 * /health and /metrics (fastify). /health answers 200 while at least one RADIUS server is up
 * (or nothing has been sent yet), 503 otherwise, with the emitter's snapshot as the body.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import type { Emitter } from '../delivery/emitter.js';
import type { Metrics } from '../metrics.js';

export async function startHttpServer(host: string, port: number, emitter: Emitter, metrics: Metrics): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  app.get('/health', async (_req, reply) => {
    const snap = emitter.snapshot();
    const up = snap.servers.some((s) => s.up);
    return reply.code(up ? 200 : 503).send({ status: up ? 'ok' : 'no RADIUS server answering', ...snap });
  });
  app.get('/metrics', async (_req, reply) => {
    return reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  await app.listen({ host, port });
  return app;
}
