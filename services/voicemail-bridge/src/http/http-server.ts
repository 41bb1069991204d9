/**
 * The HTTP API (fastify), the same for both backends:
 *   GET    /health                                      liveness + a few counts
 *   GET    /metrics                                     Prometheus text format
 *   GET    /mailboxes/{user@domain}/messages            JSON list (id, caller, received_at, duration_s, folder)
 *   GET    /mailboxes/{user@domain}/messages/{id}.wav   the recording
 *   DELETE /mailboxes/{user@domain}/messages/{id}       204, or 404
 *   PUT    /mailboxes/{user@domain}/greetings/{busy|unavailable}   WAV (PCM 16-bit, any rate) → 204
 * Mailboxes exist only for subscribers; everything else is 404.
 */
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { VM_ERRORS } from '../errors.js';
import type { GreetingKind, MailboxReader } from '../mailbox/mailbox-store.js';
import { encodeWav, readWav, resampleTo8k } from '../media/wav.js';
import type { SubscriberDirectory } from '../subscribers/subscriber-directory.js';
import type { Registry } from 'prom-client';

export interface GreetingWriter {
  /** Stores a greeting already converted to 8 kHz mono 16-bit WAV. */
  saveGreeting(username: string, domain: string, kind: GreetingKind, wav: Buffer): Promise<void>;
}

export interface HttpDeps {
  mailboxes: MailboxReader;
  greetings: GreetingWriter;
  directory: SubscriberDirectory;
  registry: Registry;
  health(): Record<string, unknown>;
}

const MAILBOX_RE = /^([^@\s:/\\]{1,64})@([A-Za-z0-9.-]{1,64}|\[[0-9A-Fa-f:.]{2,45}\])$/;
const ID_RE = /^[0-9A-Za-z_-]{1,64}$/;
const MAX_GREETING_BYTES = 8 * 1024 * 1024;
const MAX_GREETING_SECONDS = 120;

function notFound(reply: FastifyReply, what: string): FastifyReply {
  return reply.code(404).send({ error: 'VM_ERR_NO_MAILBOX', message: what });
}

export function buildHttp(deps: HttpDeps): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: MAX_GREETING_BYTES });
  app.addContentTypeParser(['audio/wav', 'audio/x-wav', 'audio/wave', 'application/octet-stream'], { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  /** The subscriber a path names, or null. */
  function mailboxOf(param: string): { username: string; domain: string } | null {
    const m = MAILBOX_RE.exec(param);
    if (m === null) return null;
    const domain = m[2]!.toLowerCase();
    return deps.directory.has(m[1]!, domain) ? { username: m[1]!, domain } : null;
  }

  app.get('/health', async () => ({ status: 'ok', ...deps.health() }));
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', deps.registry.contentType);
    return deps.registry.metrics();
  });

  app.get<{ Params: { mailbox: string } }>('/mailboxes/:mailbox/messages', async (req, reply) => {
    const box = mailboxOf(req.params.mailbox);
    if (box === null) return notFound(reply, 'no such mailbox');
    const list = await deps.mailboxes.list(box.username, box.domain);
    return list.map((m) => ({ id: m.id, caller: m.caller, caller_name: m.callerName, received_at: m.received_at, duration_s: m.duration_s, folder: m.folder }));
  });

  app.get<{ Params: { mailbox: string; file: string } }>('/mailboxes/:mailbox/messages/:file', async (req, reply) => {
    const box = mailboxOf(req.params.mailbox);
    if (box === null) return notFound(reply, 'no such mailbox');
    const file = req.params.file;
    if (!file.endsWith('.wav') || !ID_RE.test(file.slice(0, -4))) return notFound(reply, 'no such message');
    const wav = await deps.mailboxes.audio(box.username, box.domain, file.slice(0, -4));
    if (wav === null) return notFound(reply, 'no such message');
    reply.header('content-type', 'audio/wav');
    return reply.send(wav);
  });

  app.delete<{ Params: { mailbox: string; id: string } }>('/mailboxes/:mailbox/messages/:id', async (req, reply) => {
    const box = mailboxOf(req.params.mailbox);
    if (box === null) return notFound(reply, 'no such mailbox');
    if (!ID_RE.test(req.params.id)) return notFound(reply, 'no such message');
    const ok = await deps.mailboxes.remove(box.username, box.domain, req.params.id);
    if (!ok) return notFound(reply, 'no such message');
    return reply.code(204).send();
  });

  app.put<{ Params: { mailbox: string; kind: string } }>('/mailboxes/:mailbox/greetings/:kind', async (req, reply) => {
    const box = mailboxOf(req.params.mailbox);
    if (box === null) return notFound(reply, 'no such mailbox');
    const kind = req.params.kind;
    if (kind !== 'busy' && kind !== 'unavailable') return notFound(reply, 'greetings are busy or unavailable');
    const body = req.body;
    if (!Buffer.isBuffer(body)) return reply.code(415).send({ error: 'VM_ERR_BAD_WAV', message: VM_ERRORS.VM_ERR_BAD_WAV.reason });
    const r = readWav(body);
    if (!r.ok) return reply.code(415).send({ error: 'VM_ERR_BAD_WAV', message: `${VM_ERRORS.VM_ERR_BAD_WAV.reason}: ${r.reason}` });
    const samples = resampleTo8k(r.audio.samples, r.audio.sampleRate);
    if (samples.length > MAX_GREETING_SECONDS * 8000) return reply.code(413).send({ error: 'VM_ERR_BAD_WAV', message: `greeting longer than ${MAX_GREETING_SECONDS} s` });
    await deps.greetings.saveGreeting(box.username, box.domain, kind, encodeWav(samples));
    return reply.code(204).send();
  });

  return app;
}
