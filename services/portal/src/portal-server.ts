/**
 * The portal's HTTP server (fastify): server-rendered pages for administrators and subscribers
 * and, under /api, a JSON API over the same operations (portal-service.ts). Sessions, CSRF and
 * sign-in throttling are enforced here, once, for both.
 */
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { isStorageError } from '@voip/storage';
import { csrfMatches, type Principal, type Session } from './auth/session-store.js';
import { PortalError } from './errors.js';
import {
  adminHome,
  cdrPage,
  forwardingPage,
  layout,
  loginPage,
  meHome,
  messagePage,
  onlinePage,
  passwordPage,
  resourcePage,
  signupPage,
  subscriberPage,
  subscribersPage,
  voicemailPage,
  type CdrFilter,
  type PageContext,
} from './html/pages.js';
import { html } from './html/escape.js';
import { openApiDocument } from './openapi.js';
import { PortalService, cdrCsv, type PortalDeps } from './portal-service.js';
import { ACL_GROUPS, RESOURCES } from './resources.js';
import { bodyOf, checkAccount } from './validation.js';

export const SESSION_COOKIE = 'portal_session';
const CSS = readFileSync(new URL('../public/portal.css', import.meta.url), 'utf8');
/** Form and JSON bodies are small; anything larger is refused before parsing. */
const BODY_LIMIT = 64 * 1024;

declare module 'fastify' {
  interface FastifyRequest {
    portalSession: Session | null;
  }
}

function isApi(req: FastifyRequest): boolean {
  return req.url.startsWith('/api/');
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

/** Routes that create a session (no session yet, so no synchronizer token to check). */
const CSRF_EXEMPT = new Set(['/login', '/api/login', '/signup', '/api/signup', '/signup/confirm', '/api/signup/confirm']);

export function buildPortalServer(deps: PortalDeps): FastifyInstance {
  const svc = new PortalService(deps);
  const app = Fastify({ logger: false, bodyLimit: BODY_LIMIT, trustProxy: false });
  app.decorateRequest('portalSession', null);

  // application/x-www-form-urlencoded: the pages' forms (no JavaScript needed).
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: BODY_LIMIT }, (_req, body, done) => {
    const out: Record<string, string> = {};
    for (const [k, v] of new URLSearchParams(body as string)) out[k] = v;
    done(null, out);
  });

  app.addHook('onRequest', async (req) => {
    req.portalSession = deps.sessions.get(cookieValue(req.headers.cookie, SESSION_COOKIE));
  });
  // CSRF (OWASP synchronizer token): every state-changing request of a signed-in user carries
  // the session's token, as the hidden _csrf field of a form or the x-csrf-token header.
  app.addHook('preHandler', async (req) => {
    if (req.method === 'GET' || req.method === 'HEAD') return;
    const path = req.url.split('?')[0]!;
    if (CSRF_EXEMPT.has(path)) return;
    const s = req.portalSession;
    if (s === null) throw new PortalError('PORTAL_ERR_UNAUTHENTICATED');
    const token = req.headers['x-csrf-token'] ?? bodyOf(req.body)._csrf;
    if (!csrfMatches(s, token)) {
      deps.metrics.csrfRejected.inc();
      throw new PortalError('PORTAL_ERR_CSRF');
    }
  });
  // Defence in depth behind the escaping: no script runs on these pages at all (they need none),
  // nothing is framed (clickjacking), forms post only here, types are not sniffed.
  app.addHook('onSend', async (_req, reply) => {
    reply.header('content-security-policy', "default-src 'self'; script-src 'none'; object-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'");
    reply.header('x-content-type-options', 'nosniff');
    reply.header('x-frame-options', 'DENY');
    reply.header('referrer-policy', 'same-origin');
  });
  app.addHook('onResponse', async (req, reply) => {
    deps.metrics.responses.inc({ api: isApi(req) ? 'yes' : 'no', code: String(reply.statusCode) });
  });

  app.setErrorHandler(async (err: unknown, req, reply) => {
    let status = 500;
    let code = 'PORTAL_ERR_INTERNAL';
    let message = 'Internal error';
    if (err instanceof PortalError) {
      status = err.status;
      code = err.code;
      message = err.message;
    } else if (isStorageError(err)) {
      const map: Record<string, [number, string]> = {
        STORAGE_ERR_DUPLICATE: [409, 'PORTAL_ERR_DUPLICATE'],
        STORAGE_ERR_INVALID: [400, 'PORTAL_ERR_BAD_INPUT'],
      };
      [status, code] = map[err.code] ?? [503, 'PORTAL_ERR_STORAGE'];
      message = err.message;
      if (status === 503) deps.log.error({ err: err.message }, 'storage error');
    } else if ((err as { statusCode?: number }).statusCode !== undefined && (err as { statusCode: number }).statusCode < 500) {
      // fastify's own 4xx (body too large, bad JSON, unsupported media type).
      status = (err as { statusCode: number }).statusCode;
      code = 'PORTAL_ERR_BAD_INPUT';
      message = (err as Error).message;
    } else {
      deps.log.error({ err: (err as Error).message, stack: (err as Error).stack }, 'request failed');
    }
    if (isApi(req)) return reply.code(status).send({ error: code, message });
    if (code === 'PORTAL_ERR_UNAUTHENTICATED') return reply.redirect('/login', 303);
    if (status === 429) reply.header('retry-after', String(Math.ceil((err as PortalError & { retryAfterS?: number }).retryAfterS ?? 60)));
    return reply.code(status).type('text/html; charset=utf-8').send(layout(ctxOf(req), status === 403 ? 'Not allowed' : 'Something went wrong', html`<p class="error" role="alert">${message}</p><p>Use your browser's Back button to correct the form, or go <a href="/">home</a>.</p>`));
  });
  app.setNotFoundHandler(async (req, reply) => {
    if (isApi(req)) return reply.code(404).send({ error: 'PORTAL_ERR_NOT_FOUND', message: 'no such endpoint' });
    return reply.code(404).type('text/html; charset=utf-8').send(messagePage(ctxOf(req), 'Not found', 'There is no such page.'));
  });

  function ctxOf(req: FastifyRequest): PageContext {
    const s = req.portalSession;
    let notice: string | undefined;
    if (s !== null && s.flash !== undefined) {
      notice = s.flash;
      s.flash = undefined;
    }
    return { principal: s?.principal ?? null, csrf: s?.csrf ?? '', readOnly: deps.readOnly, notice };
  }

  function page(reply: FastifyReply, text: string): FastifyReply {
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(text);
  }

  /** After a form POST: Post/Redirect/Get with a one-time notice. */
  function done(req: FastifyRequest, reply: FastifyReply, to: string, notice: string): FastifyReply {
    if (req.portalSession !== null) req.portalSession.flash = notice;
    return reply.redirect(to, 303);
  }

  function principal(req: FastifyRequest): Principal {
    const s = req.portalSession;
    if (s === null) throw new PortalError('PORTAL_ERR_UNAUTHENTICATED');
    return s.principal;
  }

  function admin(req: FastifyRequest): Principal & { role: 'admin' } {
    const p = principal(req);
    if (p.role !== 'admin') throw new PortalError('PORTAL_ERR_FORBIDDEN', 'administrators only');
    return p;
  }

  function subscriber(req: FastifyRequest): Principal & { role: 'subscriber' } {
    const p = principal(req);
    if (p.role !== 'subscriber') throw new PortalError('PORTAL_ERR_FORBIDDEN', 'subscribers only (administrators use the admin pages)');
    return p;
  }

  function setSessionCookie(reply: FastifyReply, id: string): void {
    const secure = deps.config.session.secureCookie ? '; Secure' : '';
    reply.header('set-cookie', `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict${secure}`);
  }

  function clearSessionCookie(reply: FastifyReply): void {
    const secure = deps.config.session.secureCookie ? '; Secure' : '';
    reply.header('set-cookie', `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${secure}`);
  }

  // ---------------------------------------------------------------- infrastructure
  app.get('/health', async () => ({ status: 'ok', storage: deps.storage.description, readOnly: deps.readOnly, sessions: deps.sessions.size }));
  app.get('/metrics', async (_req, reply) => reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics()));
  app.get('/static/portal.css', async (_req, reply) => reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=3600').send(CSS));
  app.get('/api/openapi.json', async () => openApiDocument());

  // ---------------------------------------------------------------- sign-in
  app.get('/', async (req, reply) => {
    const p = req.portalSession?.principal;
    return reply.redirect(p === undefined ? '/login' : p.role === 'admin' ? '/admin' : '/me', 303);
  });
  app.get('/login', async (req, reply) => page(reply, loginPage(ctxOf(req), deps.config.signup.enabled && !deps.readOnly)));
  const signIn = async (req: FastifyRequest, reply: FastifyReply): Promise<Session> => {
    const b = bodyOf(req.body);
    const p = await svc.signIn(req.ip, str(b.user), str(b.password));
    const old = req.portalSession;
    if (old !== null) deps.sessions.destroy(old.id);
    // A new id at every sign-in: a session id planted before sign-in is worthless (session fixation).
    const s = deps.sessions.create(p);
    setSessionCookie(reply, s.id);
    return s;
  };
  app.post('/login', async (req, reply) => {
    const s = await signIn(req, reply);
    return reply.redirect(s.principal.role === 'admin' ? '/admin' : '/me', 303);
  });
  app.post('/api/login', async (req, reply) => {
    const s = await signIn(req, reply);
    return { role: s.principal.role, csrfToken: s.csrf, principal: s.principal };
  });
  const signOut = async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (req.portalSession !== null) deps.sessions.destroy(req.portalSession.id);
    clearSessionCookie(reply);
  };
  app.post('/logout', async (req, reply) => {
    await signOut(req, reply);
    return reply.redirect('/login', 303);
  });
  app.post('/api/logout', async (req, reply) => {
    await signOut(req, reply);
    return { signedOut: true };
  });
  app.get('/api/session', async (req) => {
    const s = req.portalSession;
    if (s === null) throw new PortalError('PORTAL_ERR_UNAUTHENTICATED');
    return { principal: s.principal, csrfToken: s.csrf };
  });

  // ---------------------------------------------------------------- sign-up
  app.get('/signup', async (req, reply) => {
    svc.assertSignupOpen();
    return page(reply, signupPage(ctxOf(req), await svc.signupDomains()));
  });
  app.post('/signup', async (req, reply) => {
    const r = await svc.signUp(bodyOf(req.body));
    return page(reply, messagePage(ctxOf(req), 'Check your e-mail', `We sent a confirmation link to ${r.email}. Your account ${r.account} works once you open it.`));
  });
  app.post('/api/signup', async (req, reply) => reply.code(202).send(await svc.signUp(bodyOf(req.body))));
  app.get<{ Querystring: { token?: string } }>('/signup/confirm', async (req, reply) =>
    page(
      reply,
      layout(
        ctxOf(req),
        'Confirm your account',
        html`<form method="post" action="/signup/confirm" class="card"><input type="hidden" name="token" value="${str(req.query.token)}"><p>Press the button to activate your SIP account.</p><p><button type="submit">Activate my account</button></p></form>`,
      ),
    ),
  );
  app.post('/signup/confirm', async (req, reply) => {
    const account = await svc.confirmSignup(bodyOf(req.body).token);
    return page(reply, messagePage(ctxOf(req), 'Account active', `${account} is active: register your phone with it, or sign in here with the same user name and password.`));
  });
  app.post('/api/signup/confirm', async (req) => ({ confirmed: await svc.confirmSignup(bodyOf(req.body).token) }));

  // ---------------------------------------------------------------- admin pages
  app.get('/admin', async (req, reply) => {
    admin(req);
    return page(reply, adminHome(ctxOf(req), await svc.overview()));
  });

  app.get<{ Querystring: Record<string, string | undefined> }>('/admin/subscribers', async (req, reply) => {
    admin(req);
    const q = svc.subscriberQuery(req.query);
    return page(reply, subscribersPage(ctxOf(req), await svc.subscribers(q), { search: q.search ?? '', offset: q.offset, limit: q.limit }));
  });
  app.get<{ Querystring: Record<string, string | undefined> }>('/api/subscribers', async (req) => {
    admin(req);
    const q = svc.subscriberQuery(req.query);
    return { ...(await svc.subscribers(q)), offset: q.offset, limit: q.limit };
  });
  app.post('/admin/subscribers', async (req, reply) => {
    admin(req);
    const a = await svc.addSubscriber(bodyOf(req.body));
    return done(req, reply, `/admin/subscribers/${encodeURIComponent(a)}`, `Subscriber ${a} added.`);
  });
  app.post('/api/subscribers', async (req, reply) => {
    admin(req);
    return reply.code(201).send({ added: await svc.addSubscriber(bodyOf(req.body)) });
  });
  app.get<{ Params: { account: string } }>('/admin/subscribers/:account', async (req, reply) => {
    admin(req);
    return page(reply, subscriberPage(ctxOf(req), await svc.subscriberDetail(checkAccount(req.params.account)), ACL_GROUPS));
  });
  app.get<{ Params: { account: string } }>('/api/subscribers/:account', async (req) => {
    admin(req);
    return svc.subscriberDetail(checkAccount(req.params.account));
  });
  const subscriberActions = {
    password: (a: { username: string; domain: string }, b: Record<string, unknown>) => svc.resetPassword(a, b.password).then(() => 'Password changed.'),
    email: (a: { username: string; domain: string }, b: Record<string, unknown>) => svc.setEmail(a, b.email).then(() => 'E-mail address saved.'),
    disable: (a: { username: string; domain: string }) => svc.disable(a).then(() => 'Subscriber disabled: its phones can no longer register or call.'),
    enable: (a: { username: string; domain: string }) => svc.enable(a).then(() => 'Subscriber enabled.'),
    groups: (a: { username: string; domain: string }, b: Record<string, unknown>) => svc.grant(a, b.grp).then(() => 'Group granted.'),
    'groups/revoke': (a: { username: string; domain: string }, b: Record<string, unknown>) => svc.revoke(a, b.grp).then(() => 'Group revoked.'),
  } as const;
  for (const [action, fn] of Object.entries(subscriberActions)) {
    app.post<{ Params: { account: string } }>(`/admin/subscribers/:account/${action}`, async (req, reply) => {
      admin(req);
      const a = checkAccount(req.params.account);
      const notice = await fn(a, bodyOf(req.body));
      return done(req, reply, `/admin/subscribers/${encodeURIComponent(`${a.username}@${a.domain}`)}`, notice);
    });
    app.post<{ Params: { account: string } }>(`/api/subscribers/:account/${action}`, async (req) => {
      admin(req);
      return { ok: true, message: await fn(checkAccount(req.params.account), bodyOf(req.body)) };
    });
  }
  app.post<{ Params: { account: string } }>('/admin/subscribers/:account/delete', async (req, reply) => {
    admin(req);
    const a = checkAccount(req.params.account);
    await svc.removeSubscriber(a);
    return done(req, reply, '/admin/subscribers', `Subscriber ${a.username}@${a.domain} deleted.`);
  });
  app.delete<{ Params: { account: string } }>('/api/subscribers/:account', async (req) => {
    admin(req);
    await svc.removeSubscriber(checkAccount(req.params.account));
    return { removed: true };
  });

  for (const def of RESOURCES) {
    app.get(`/admin/${def.name}`, async (req, reply) => {
      admin(req);
      return page(reply, resourcePage(ctxOf(req), def, await def.list(deps.storage)));
    });
    app.get(`/api/${def.name}`, async (req) => {
      admin(req);
      return { [def.name]: await def.list(deps.storage) };
    });
    app.post(`/admin/${def.name}`, async (req, reply) => {
      admin(req);
      await svc.addRow(def, bodyOf(req.body));
      return done(req, reply, `/admin/${def.name}`, `${def.title}: added.`);
    });
    app.post(`/api/${def.name}`, async (req, reply) => {
      admin(req);
      await svc.addRow(def, bodyOf(req.body));
      return reply.code(201).send({ added: true });
    });
    app.post(`/admin/${def.name}/delete`, async (req, reply) => {
      admin(req);
      await svc.removeRow(def, bodyOf(req.body));
      return done(req, reply, `/admin/${def.name}`, `${def.title}: removed.`);
    });
    app.delete(`/api/${def.name}`, async (req) => {
      admin(req);
      await svc.removeRow(def, bodyOf(req.body));
      return { removed: true };
    });
  }

  app.get('/admin/online', async (req, reply) => {
    admin(req);
    return page(reply, onlinePage(ctxOf(req), await deps.proxy.bindings(), deps.proxy.configured));
  });
  app.get('/api/online', async (req) => {
    admin(req);
    return { bindings: await deps.proxy.bindings() };
  });

  // ---------------------------------------------------------------- CDRs
  const cdrFilter = (q: Record<string, string | undefined>): CdrFilter => ({
    kind: q.kind === 'missed' ? 'missed' : 'acc',
    user: q.user ?? '',
    number: q.number ?? '',
    from: q.from ?? '',
    to: q.to ?? '',
    before: q.before !== undefined && /^\d{1,12}$/.test(q.before) ? Number(q.before) : undefined,
  });
  app.get<{ Querystring: Record<string, string | undefined> }>('/admin/cdrs', async (req, reply) => {
    admin(req);
    const f = cdrFilter(req.query);
    const r = await svc.cdrs(principal(req), req.query, 50);
    return page(reply, cdrPage(ctxOf(req), 'Calls', '/admin/cdrs', f, r.rows, r.nextBefore, true));
  });
  app.get<{ Querystring: Record<string, string | undefined> }>('/me/calls', async (req, reply) => {
    subscriber(req);
    const f = cdrFilter(req.query);
    const r = await svc.cdrs(principal(req), req.query, 50);
    return page(reply, cdrPage(ctxOf(req), 'My calls', '/me/calls', f, r.rows, r.nextBefore, false));
  });
  app.get<{ Querystring: Record<string, string | undefined> }>('/api/cdrs', async (req) => svc.cdrs(principal(req), req.query, 100));
  for (const path of ['/admin/cdrs.csv', '/me/calls.csv', '/api/cdrs.csv']) {
    app.get<{ Querystring: Record<string, string | undefined> }>(path, async (req, reply) => {
      const p = principal(req);
      if (path.startsWith('/admin') && p.role !== 'admin') throw new PortalError('PORTAL_ERR_FORBIDDEN', 'administrators only');
      const text = await cdrCsv(svc, p, req.query);
      return reply.type('text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="calls.csv"').send(text);
    });
  }

  // ---------------------------------------------------------------- voicemail
  app.get<{ Querystring: { mailbox?: string } }>('/admin/voicemail', async (req, reply) => {
    admin(req);
    const box = req.query.mailbox ? checkAccount(req.query.mailbox, 'mailbox') : null;
    const mailbox = box === null ? null : `${box.username}@${box.domain}`;
    const messages = mailbox === null ? [] : await svc.voicemail(principal(req), mailbox);
    return page(reply, voicemailPage(ctxOf(req), mailbox, messages, { adminPicker: true, configured: deps.voicemail.configured, deleteAction: '/admin/voicemail/delete' }));
  });
  app.post('/admin/voicemail/delete', async (req, reply) => {
    admin(req);
    const b = bodyOf(req.body);
    await svc.deleteVoicemail(principal(req), str(b.mailbox), str(b.id));
    return done(req, reply, `/admin/voicemail?mailbox=${encodeURIComponent(str(b.mailbox))}`, 'Message deleted.');
  });
  app.get('/me/voicemail', async (req, reply) => {
    const p = subscriber(req);
    const mailbox = `${p.username}@${p.domain}`;
    return page(reply, voicemailPage(ctxOf(req), mailbox, await svc.voicemail(p, mailbox), { adminPicker: false, configured: deps.voicemail.configured, deleteAction: '/me/voicemail/delete' }));
  });
  app.post('/me/voicemail/delete', async (req, reply) => {
    const p = subscriber(req);
    await svc.deleteVoicemail(p, `${p.username}@${p.domain}`, str(bodyOf(req.body).id));
    return done(req, reply, '/me/voicemail', 'Message deleted.');
  });
  app.get<{ Params: { mailbox: string } }>('/api/voicemail/:mailbox', async (req) => ({ messages: await svc.voicemail(principal(req), req.params.mailbox) }));
  app.delete<{ Params: { mailbox: string; id: string } }>('/api/voicemail/:mailbox/:id', async (req) => {
    await svc.deleteVoicemail(principal(req), req.params.mailbox, req.params.id);
    return { removed: true };
  });
  app.get<{ Params: { mailbox: string; file: string } }>('/voicemail/:mailbox/:file', async (req, reply) => {
    const file = req.params.file;
    if (!file.endsWith('.wav')) throw new PortalError('PORTAL_ERR_NOT_FOUND', 'no such message');
    const wav = await svc.voicemailAudio(principal(req), req.params.mailbox, file.slice(0, -4));
    return reply.type('audio/wav').header('cache-control', 'private, no-store').send(wav);
  });

  // ---------------------------------------------------------------- subscriber self-service
  app.get('/me', async (req, reply) => {
    const p = subscriber(req);
    const me = await svc.me(p);
    return page(reply, meHome(ctxOf(req), me.account, me.devices, me.groups));
  });
  app.get('/api/me', async (req) => svc.me(subscriber(req)));
  app.get('/api/me/devices', async (req) => ({ devices: (await svc.me(subscriber(req))).devices }));
  app.get('/me/forwarding', async (req, reply) => page(reply, forwardingPage(ctxOf(req), await svc.forwarding(subscriber(req)))));
  app.get('/api/me/forwarding', async (req) => svc.forwarding(subscriber(req)));
  app.post('/me/forwarding', async (req, reply) => {
    await svc.setForwarding(subscriber(req), bodyOf(req.body));
    return done(req, reply, '/me/forwarding', 'Forwarding saved: it applies to the next call.');
  });
  app.post('/api/me/forwarding', async (req) => {
    const p = subscriber(req);
    await svc.setForwarding(p, bodyOf(req.body));
    return svc.forwarding(p);
  });
  app.get('/me/password', async (req, reply) => {
    subscriber(req);
    return page(reply, passwordPage(ctxOf(req)));
  });
  const changeOwnPassword = async (req: FastifyRequest): Promise<void> => {
    const b = bodyOf(req.body);
    await svc.changeOwnPassword(subscriber(req), b.current, b.password, req.portalSession!.id);
  };
  app.post('/me/password', async (req, reply) => {
    await changeOwnPassword(req);
    return done(req, reply, '/me', 'Password changed: your phones need the new one from their next registration.');
  });
  app.post('/api/me/password', async (req) => {
    await changeOwnPassword(req);
    return { changed: true };
  });

  return app;
}
