/**
 * The OpenAPI 3.1 document of the JSON API (GET /api/openapi.json), written by hand from the same
 * route list the server registers, so a provider can script the portal (curl, generated clients).
 */
import { RESOURCES } from './resources.js';

type Op = { summary: string; tags: string[]; parameters?: unknown[]; requestBody?: unknown; responses: Record<string, unknown>; security?: unknown[] };

const ok = { '200': { description: 'OK', content: { 'application/json': { schema: { type: 'object' } } } } };
const errors = {
  '400': { $ref: '#/components/responses/Error' },
  '401': { $ref: '#/components/responses/Error' },
  '403': { $ref: '#/components/responses/Error' },
  '409': { $ref: '#/components/responses/Error' },
};
const jsonBody = (props: Record<string, unknown>, required: string[] = []) => ({
  required: true,
  content: { 'application/json': { schema: { type: 'object', properties: props, required } } },
});
const q = (name: string, description: string) => ({ name, in: 'query', required: false, schema: { type: 'string' }, description });
const account = { name: 'account', in: 'path', required: true, schema: { type: 'string' }, description: 'user@domain' };
const str = { type: 'string' };

export function openApiDocument(): Record<string, unknown> {
  const paths: Record<string, Record<string, Op>> = {
    '/api/login': { post: { summary: 'Sign in (administrator name or SIP user@domain); returns the CSRF token for later requests', tags: ['session'], requestBody: jsonBody({ user: str, password: str }, ['user', 'password']), responses: { ...ok, ...errors, '429': { $ref: '#/components/responses/Error' } }, security: [] } },
    '/api/logout': { post: { summary: 'Sign out', tags: ['session'], responses: ok } },
    '/api/session': { get: { summary: 'Who is signed in, and the CSRF token', tags: ['session'], responses: { ...ok, ...errors } } },
    '/api/signup': { post: { summary: 'Sign up: the account is created disabled and a confirmation link is mailed', tags: ['sign-up'], requestBody: jsonBody({ username: str, domain: str, email: str, password: str }, ['username', 'domain', 'email', 'password']), responses: { '202': { description: 'mail sent' }, ...errors }, security: [] } },
    '/api/signup/confirm': { post: { summary: 'Confirm a sign-up with the token of the mailed link', tags: ['sign-up'], requestBody: jsonBody({ token: str }, ['token']), responses: { ...ok, '404': { $ref: '#/components/responses/Error' } }, security: [] } },
    '/api/subscribers': {
      get: { summary: 'Subscribers, paginated and searchable', tags: ['subscribers'], parameters: [q('q', 'substring of user, domain or e-mail'), q('domain', 'only this domain'), q('offset', 'rows to skip'), q('limit', '1-500, default 50')], responses: { ...ok, ...errors } },
      post: { summary: 'Add a subscriber', tags: ['subscribers'], requestBody: jsonBody({ username: str, domain: str, password: str, email: str }, ['username', 'domain', 'password']), responses: { '201': { description: 'added' }, ...errors } },
    },
    '/api/subscribers/{account}': {
      get: { summary: 'One subscriber: state, groups, preferences, aliases, devices', tags: ['subscribers'], parameters: [account], responses: { ...ok, ...errors } },
      delete: { summary: 'Delete a subscriber with its groups, preferences and aliases', tags: ['subscribers'], parameters: [account], responses: { ...ok, ...errors } },
    },
    '/api/subscribers/{account}/password': { post: { summary: 'Reset the SIP password', tags: ['subscribers'], parameters: [account], requestBody: jsonBody({ password: str }, ['password']), responses: { ...ok, ...errors } } },
    '/api/subscribers/{account}/email': { post: { summary: 'Edit the e-mail address', tags: ['subscribers'], parameters: [account], requestBody: jsonBody({ email: str }, ['email']), responses: { ...ok, ...errors } } },
    '/api/subscribers/{account}/disable': { post: { summary: 'Disable (credentials replaced by unknown ones, bindings dropped)', tags: ['subscribers'], parameters: [account], responses: { ...ok, ...errors } } },
    '/api/subscribers/{account}/enable': { post: { summary: 'Enable again', tags: ['subscribers'], parameters: [account], responses: { ...ok, ...errors } } },
    '/api/subscribers/{account}/groups': { post: { summary: 'Grant an ACL group (local, ld, int)', tags: ['subscribers'], parameters: [account], requestBody: jsonBody({ grp: str }, ['grp']), responses: { ...ok, ...errors } } },
    '/api/subscribers/{account}/groups/revoke': { post: { summary: 'Revoke an ACL group', tags: ['subscribers'], parameters: [account], requestBody: jsonBody({ grp: str }, ['grp']), responses: { ...ok, ...errors } } },
    '/api/online': { get: { summary: 'Registered contacts (from the proxy)', tags: ['status'], responses: { ...ok, ...errors } } },
    '/api/cdrs': { get: { summary: 'Calls (acc) or missed calls, newest first; subscribers get their own only', tags: ['calls'], parameters: [q('kind', 'acc or missed'), q('user', 'caller or callee user (admin)'), q('account', 'user@domain (admin; a subscriber may give only their own)'), q('number', 'dialled number prefix'), q('from', 'YYYY-MM-DD (UTC)'), q('to', 'YYYY-MM-DD (UTC, inclusive)'), q('before', 'nextBefore of the previous page'), q('limit', '1-1000')], responses: { ...ok, ...errors } } },
    '/api/cdrs.csv': { get: { summary: 'The same search as CSV (all pages)', tags: ['calls'], responses: { '200': { description: 'CSV', content: { 'text/csv': {} } }, ...errors } } },
    '/api/voicemail/{mailbox}': { get: { summary: 'Messages of a mailbox (own only for subscribers)', tags: ['voicemail'], parameters: [{ ...account, name: 'mailbox' }], responses: { ...ok, ...errors } } },
    '/api/voicemail/{mailbox}/{id}': { delete: { summary: 'Delete a message', tags: ['voicemail'], parameters: [{ ...account, name: 'mailbox' }, { name: 'id', in: 'path', required: true, schema: str }], responses: { ...ok, ...errors } } },
    '/api/me': { get: { summary: 'The signed-in subscriber: account, groups, devices', tags: ['self-service'], responses: { ...ok, ...errors } } },
    '/api/me/devices': { get: { summary: 'Registered devices of the signed-in subscriber', tags: ['self-service'], responses: { ...ok, ...errors } } },
    '/api/me/forwarding': {
      get: { summary: 'Call forwarding settings', tags: ['self-service'], responses: { ...ok, ...errors } },
      post: { summary: 'Set or clear (empty string) callfwd, fwdbusy, fwdnoanswer, fwdnoanswer_timeout', tags: ['self-service'], requestBody: jsonBody({ callfwd: str, fwdbusy: str, fwdnoanswer: str, fwdnoanswer_timeout: str }), responses: { ...ok, ...errors } },
    },
    '/api/me/password': { post: { summary: 'Change the own SIP password', tags: ['self-service'], requestBody: jsonBody({ current: str, password: str }, ['current', 'password']), responses: { ...ok, ...errors } } },
  };
  for (const def of RESOURCES) {
    const props = Object.fromEntries(def.fields.map((f) => [f.name, f.kind === 'int' ? { type: 'integer' } : f.kind === 'select' ? { type: 'string', enum: f.options } : str]));
    paths[`/api/${def.name}`] = {
      get: { summary: `${def.title}: list`, tags: [def.name], responses: { ...ok, ...errors } },
      post: { summary: `${def.title}: add (${def.about})`, tags: [def.name], requestBody: jsonBody(props, def.fields.filter((f) => f.required).map((f) => f.name)), responses: { '201': { description: 'added' }, ...errors } },
      delete: { summary: `${def.title}: remove by ${def.keyFields.join(', ')}`, tags: [def.name], requestBody: jsonBody(Object.fromEntries(def.keyFields.map((k) => [k, str])), [...def.keyFields]), responses: { ...ok, ...errors, '404': { $ref: '#/components/responses/Error' } } },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'VoIP provider portal API', version: '0.1.0', description: 'Sign in with POST /api/login; send the session cookie and the returned csrfToken as x-csrf-token on every POST/DELETE.' },
    paths,
    components: {
      securitySchemes: { session: { type: 'apiKey', in: 'cookie', name: 'portal_session' }, csrf: { type: 'apiKey', in: 'header', name: 'x-csrf-token' } },
      responses: { Error: { description: 'error', content: { 'application/json': { schema: { type: 'object', properties: { error: str, message: str }, required: ['error', 'message'] } } } } },
    },
    security: [{ session: [], csrf: [] }],
  };
}
