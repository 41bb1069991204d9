/**
 * Server-rendered pages: plain template functions over `html` (the one escaping helper). Every
 * form carries the session's CSRF token; every input has a label; navigation is a list of links,
 * so the portal works with a keyboard, on a phone and without JavaScript.
 */
import type { CdrRow, SubscriberPage } from '@voip/storage';
import type { Principal } from '../auth/session-store.js';
import type { OnlineBinding } from '../clients/proxy-admin-client.js';
import type { VoicemailMessage } from '../clients/voicemail-client.js';
import type { FieldSpec, ResourceDef } from '../resources.js';
import { html, type Safe } from './escape.js';

export interface PageContext {
  principal: Principal | null;
  csrf: string;
  readOnly: boolean;
  /** One-line notice (after a change) or error, shown at the top. */
  notice?: string | undefined;
  error?: string | undefined;
}

const ADMIN_NAV: readonly [string, string][] = [
  ['/admin/subscribers', 'Subscribers'],
  ['/admin/domains', 'Domains'],
  ['/admin/aliases', 'Aliases'],
  ['/admin/groups', 'ACL groups'],
  ['/admin/preferences', 'Preferences'],
  ['/admin/trusted', 'Trusted hosts'],
  ['/admin/addresses', 'Address groups'],
  ['/admin/gateways', 'Gateways'],
  ['/admin/rules', 'LCR rules'],
  ['/admin/speeddials', 'Speed dials'],
  ['/admin/dialplan', 'Dial plan'],
  ['/admin/online', 'Online'],
  ['/admin/cdrs', 'Calls'],
  ['/admin/voicemail', 'Voicemail'],
];
const USER_NAV: readonly [string, string][] = [
  ['/me', 'My account'],
  ['/me/forwarding', 'Forwarding'],
  ['/me/calls', 'My calls'],
  ['/me/voicemail', 'Voicemail'],
  ['/me/password', 'Password'],
];

export function csrfField(ctx: PageContext): Safe {
  return html`<input type="hidden" name="_csrf" value="${ctx.csrf}">`;
}

function who(p: Principal): string {
  return p.role === 'admin' ? `${p.name} (administrator)` : `${p.username}@${p.domain}`;
}

export function layout(ctx: PageContext, title: string, body: Safe): string {
  const nav = ctx.principal === null ? [] : ctx.principal.role === 'admin' ? ADMIN_NAV : USER_NAV;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · VoIP portal</title>
<link rel="stylesheet" href="/static/portal.css">
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header>
  <strong class="brand">VoIP portal</strong>
  ${ctx.principal === null
    ? html`<a href="/login">Sign in</a>`
    : html`<span class="who">${who(ctx.principal)}</span>
  <form method="post" action="/logout" class="inline">${csrfField(ctx)}<button type="submit">Sign out</button></form>`}
</header>
${nav.length > 0 ? html`<nav aria-label="Sections"><ul>${nav.map(([href, label]) => html`<li><a href="${href}">${label}</a></li>`)}</ul></nav>` : null}
<main id="main">
<h1>${title}</h1>
${ctx.readOnly && ctx.principal?.role === 'admin' ? html`<p class="note" role="status">Read-only: this portal serves a provisioning file; changes are made in the file.</p>` : null}
${ctx.notice ? html`<p class="notice" role="status">${ctx.notice}</p>` : null}
${ctx.error ? html`<p class="error" role="alert">${ctx.error}</p>` : null}
${body}
</main>
</body>
</html>
`.text;
}

function input(f: FieldSpec, id: string, value = ''): Safe {
  if (f.kind === 'select') {
    return html`<select id="${id}" name="${f.name}"${f.required ? html` required` : null}>${(f.options ?? []).map((o) => html`<option${o === value ? html` selected` : null}>${o}</option>`)}</select>`;
  }
  return html`<input id="${id}" name="${f.name}" ${f.kind === 'int' ? html`inputmode="numeric"` : null} value="${value}"${f.placeholder ? html` placeholder="${f.placeholder}"` : null}${f.required ? html` required` : null}>`;
}

export function fieldRow(f: FieldSpec, prefix: string, value = ''): Safe {
  const id = `${prefix}-${f.name}`;
  return html`<p><label for="${id}">${f.label}</label>${input(f, id, value)}</p>`;
}

function cell(v: unknown): string {
  return v === null || v === undefined ? '' : String(v);
}

export function table(headers: readonly string[], rows: readonly (readonly (string | number | null | Safe)[])[], caption?: string): Safe {
  if (rows.length === 0) return html`<p class="empty">Nothing here yet.</p>`;
  return html`<div class="scroll"><table>${caption ? html`<caption>${caption}</caption>` : null}<thead><tr>${headers.map((h) => html`<th scope="col">${h}</th>`)}</tr></thead><tbody>${rows.map(
    (r) => html`<tr>${r.map((c, i) => html`<td data-label="${headers[i] ?? ''}">${typeof c === 'object' && c !== null ? c : cell(c)}</td>`)}</tr>`,
  )}</tbody></table></div>`;
}

export function resourcePage(ctx: PageContext, def: ResourceDef, rows: Record<string, string | number | null>[]): string {
  const canWrite = !ctx.readOnly;
  const body = html`<p>${def.about}</p>
${table(
  canWrite ? [...def.columns, 'Actions'] : def.columns,
  rows.map((r) => {
    const cells: (string | number | null | Safe)[] = def.columns.map((c) => r[c] ?? null);
    if (canWrite) {
      cells.push(html`<form method="post" action="/admin/${def.name}/delete" class="inline">${csrfField(ctx)}${def.keyFields.map(
        (k) => html`<input type="hidden" name="${k}" value="${cell(r[k])}">`,
      )}<button type="submit" class="danger">Remove</button></form>`);
    }
    return cells;
  }),
)}
${canWrite
  ? html`<h2>Add</h2><form method="post" action="/admin/${def.name}" class="card">${csrfField(ctx)}${def.fields.map((f) => fieldRow(f, def.name))}<p><button type="submit">Add</button></p></form>`
  : null}`;
  return layout(ctx, def.title, body);
}

export function loginPage(ctx: PageContext, signupEnabled: boolean): string {
  return layout(
    ctx,
    'Sign in',
    html`<form method="post" action="/login" class="card">
<p><label for="login-user">Administrator name, or SIP account (user@domain)</label><input id="login-user" name="user" autocomplete="username" required></p>
<p><label for="login-password">Password</label><input id="login-password" name="password" type="password" autocomplete="current-password" required></p>
<p><button type="submit">Sign in</button></p>
</form>
${signupEnabled ? html`<p>No account yet? <a href="/signup">Sign up</a>.</p>` : null}`,
  );
}

export function signupPage(ctx: PageContext, domains: readonly string[]): string {
  return layout(
    ctx,
    'Sign up',
    html`<p>Choose a SIP user name and password. We send a confirmation link to your e-mail address; the account works once you open it.</p>
<form method="post" action="/signup" class="card">
<p><label for="su-user">User name</label><input id="su-user" name="username" required></p>
<p><label for="su-domain">Domain</label><select id="su-domain" name="domain">${domains.map((d) => html`<option>${d}</option>`)}</select></p>
<p><label for="su-email">E-mail address</label><input id="su-email" name="email" type="email" required></p>
<p><label for="su-password">SIP password</label><input id="su-password" name="password" type="password" autocomplete="new-password" required minlength="6"></p>
<p><button type="submit">Sign up</button></p>
</form>`,
  );
}

export function messagePage(ctx: PageContext, title: string, text: string): string {
  return layout(ctx, title, html`<p>${text}</p><p><a href="/">Continue</a></p>`);
}

export function adminHome(ctx: PageContext, counts: { subscribers: number; domains: number; online: number | null }): string {
  return layout(
    ctx,
    'Administration',
    html`<ul class="tiles">
<li><a href="/admin/subscribers"><strong>${counts.subscribers}</strong> subscribers</a></li>
<li><a href="/admin/domains"><strong>${counts.domains}</strong> domains</a></li>
<li><a href="/admin/online"><strong>${counts.online ?? '–'}</strong> registered contacts</a></li>
<li><a href="/admin/cdrs">Calls</a></li>
</ul>`,
  );
}

export function subscribersPage(ctx: PageContext, page: SubscriberPage, q: { search: string; offset: number; limit: number }): string {
  const prev = q.offset > 0 ? Math.max(0, q.offset - q.limit) : null;
  const next = q.offset + q.limit < page.total ? q.offset + q.limit : null;
  const link = (offset: number) => `/admin/subscribers?q=${encodeURIComponent(q.search)}&offset=${offset}`;
  return layout(
    ctx,
    'Subscribers',
    html`<form method="get" action="/admin/subscribers" class="search" role="search">
<label for="sub-q">Search user, domain or e-mail</label><input id="sub-q" name="q" value="${q.search}"><button type="submit">Search</button>
</form>
<p>${page.total} subscriber${page.total === 1 ? '' : 's'}${page.total > 0 ? html`, showing ${q.offset + 1}–${Math.min(page.total, q.offset + page.rows.length)}` : null}.</p>
${table(
  ['User', 'Domain', 'E-mail', 'State'],
  page.rows.map((s) => [html`<a href="/admin/subscribers/${encodeURIComponent(`${s.username}@${s.domain}`)}">${s.username}</a>`, s.domain, s.emailAddress, s.disabled ? 'disabled' : 'active']),
)}
<p class="pager">${prev !== null ? html`<a href="${link(prev)}" rel="prev">Previous</a>` : null} ${next !== null ? html`<a href="${link(next)}" rel="next">Next</a>` : null}</p>
${ctx.readOnly
  ? null
  : html`<h2>Add a subscriber</h2>
<form method="post" action="/admin/subscribers" class="card">${csrfField(ctx)}
<p><label for="ns-user">User name</label><input id="ns-user" name="username" required></p>
<p><label for="ns-domain">Domain</label><input id="ns-domain" name="domain" required></p>
<p><label for="ns-password">SIP password</label><input id="ns-password" name="password" type="password" autocomplete="new-password" required minlength="6"></p>
<p><label for="ns-email">E-mail address (optional)</label><input id="ns-email" name="email"></p>
<p><button type="submit">Add subscriber</button></p>
</form>`}`,
  );
}

export interface SubscriberDetail {
  username: string;
  domain: string;
  emailAddress: string | null;
  disabled: boolean;
  groups: string[];
  preferences: { attribute: string; value: string }[];
  aliases: string[];
  devices: OnlineBinding[];
}

export function subscriberPage(ctx: PageContext, d: SubscriberDetail, groupChoices: readonly string[]): string {
  const base = `/admin/subscribers/${encodeURIComponent(`${d.username}@${d.domain}`)}`;
  const w = !ctx.readOnly;
  return layout(
    ctx,
    `${d.username}@${d.domain}`,
    html`<dl class="facts"><dt>State</dt><dd>${d.disabled ? 'disabled' : 'active'}</dd><dt>E-mail</dt><dd>${d.emailAddress ?? ''}</dd><dt>Aliases</dt><dd>${d.aliases.join(', ')}</dd></dl>
<h2>ACL groups</h2>
${table(w ? ['Group', 'Actions'] : ['Group'], d.groups.map((g) => (w ? [g, html`<form method="post" action="${base}/groups/revoke" class="inline">${csrfField(ctx)}<input type="hidden" name="grp" value="${g}"><button type="submit" class="danger">Revoke</button></form>`] : [g])))}
${w ? html`<form method="post" action="${base}/groups" class="card">${csrfField(ctx)}<p><label for="grant-grp">Grant group</label><select id="grant-grp" name="grp">${groupChoices.map((g) => html`<option>${g}</option>`)}</select> <button type="submit">Grant</button></p></form>` : null}
<h2>Preferences</h2>
${table(['Attribute', 'Value'], d.preferences.map((p) => [p.attribute, p.value]))}
<p><a href="/admin/preferences">Edit preferences</a></p>
<h2>Devices</h2>
${devicesTable(d.devices)}
${w
  ? html`<h2>Edit</h2>
<form method="post" action="${base}/email" class="card">${csrfField(ctx)}<p><label for="ed-email">E-mail address</label><input id="ed-email" name="email" value="${d.emailAddress ?? ''}"></p><p><button type="submit">Save</button></p></form>
<h2>Reset password</h2>
<form method="post" action="${base}/password" class="card">${csrfField(ctx)}<p><label for="rp-password">New SIP password</label><input id="rp-password" name="password" type="password" autocomplete="new-password" required minlength="6"></p><p><button type="submit">Set password</button></p></form>
<h2>Account</h2>
<form method="post" action="${base}/${d.disabled ? 'enable' : 'disable'}" class="inline">${csrfField(ctx)}<button type="submit">${d.disabled ? 'Enable' : 'Disable'}</button></form>
<form method="post" action="${base}/delete" class="inline">${csrfField(ctx)}<button type="submit" class="danger">Delete subscriber</button></form>`
  : null}`,
  );
}

export function devicesTable(rows: readonly OnlineBinding[]): Safe {
  return table(
    ['Account', 'Contact', 'User agent', 'Received from', 'Expires in (s)'],
    rows.map((b) => [b.aor, b.contact, b.userAgent, b.received, b.expires]),
  );
}

export function onlinePage(ctx: PageContext, rows: readonly OnlineBinding[], proxyConfigured: boolean): string {
  return layout(
    ctx,
    'Online users',
    html`${proxyConfigured ? null : html`<p class="note">No proxy admin URL configured: live registrations are unknown.</p>`}<p>${new Set(rows.map((r) => r.aor)).size} accounts, ${rows.length} contacts.</p>${devicesTable(rows)}`,
  );
}

export interface CdrFilter {
  kind: 'acc' | 'missed';
  user: string;
  number: string;
  from: string;
  to: string;
  before: number | undefined;
}

function fmtTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

export function cdrPage(ctx: PageContext, title: string, action: string, f: CdrFilter, rows: readonly CdrRow[], nextBefore: number | null, adminSearch: boolean): string {
  const qs = (extra: Record<string, string>) =>
    new URLSearchParams({ kind: f.kind, user: f.user, number: f.number, from: f.from, to: f.to, ...extra }).toString();
  return layout(
    ctx,
    title,
    html`<form method="get" action="${action}" class="search card">
<p><label for="cdr-kind">Calls</label><select id="cdr-kind" name="kind"><option value="acc"${f.kind === 'acc' ? html` selected` : null}>answered</option><option value="missed"${f.kind === 'missed' ? html` selected` : null}>missed</option></select></p>
${adminSearch ? html`<p><label for="cdr-user">User</label><input id="cdr-user" name="user" value="${f.user}"></p>` : null}
<p><label for="cdr-number">Number starts with</label><input id="cdr-number" name="number" value="${f.number}"></p>
<p><label for="cdr-from">From (UTC date)</label><input id="cdr-from" name="from" type="date" value="${f.from}"></p>
<p><label for="cdr-to">To (UTC date, inclusive)</label><input id="cdr-to" name="to" type="date" value="${f.to}"></p>
<p><button type="submit">Search</button> <a href="${action}.csv?${qs({})}">Download CSV</a></p>
</form>
${table(
  ['Time (UTC)', 'Caller', 'Dialled', 'Routed to', 'Status', 'Duration (s)'],
  rows.map((r) => [fmtTime(r.time), `${r.srcUser}@${r.srcDomain}`, r.dstOuser, `${r.dstUser}@${r.dstDomain}`, `${r.sipCode} ${r.sipReason}`, r.duration]),
)}
${nextBefore !== null ? html`<p class="pager"><a href="${action}?${qs({ before: String(nextBefore) })}" rel="next">Older calls</a></p>` : null}`,
  );
}

export function voicemailPage(ctx: PageContext, mailbox: string | null, messages: readonly VoicemailMessage[], opts: { adminPicker: boolean; configured: boolean; deleteAction: string }): string {
  const picker = opts.adminPicker
    ? html`<form method="get" action="/admin/voicemail" class="search"><label for="vm-box">Mailbox (user@domain)</label><input id="vm-box" name="mailbox" value="${mailbox ?? ''}"><button type="submit">Open</button></form>`
    : null;
  const list =
    mailbox === null
      ? null
      : table(
          ['Received (UTC)', 'From', 'Seconds', 'Listen', 'Actions'],
          messages.map((m) => [
            m.receivedAt,
            m.callerName ? `${m.callerName} <${m.caller}>` : m.caller,
            m.duration,
            html`<audio controls preload="none" src="/voicemail/${encodeURIComponent(mailbox)}/${m.id}.wav"></audio>`,
            html`<form method="post" action="${opts.deleteAction}" class="inline">${csrfField(ctx)}<input type="hidden" name="mailbox" value="${mailbox}"><input type="hidden" name="id" value="${m.id}"><button type="submit" class="danger">Delete</button></form>`,
          ]),
          `Messages of ${mailbox}`,
        );
  return layout(ctx, 'Voicemail', html`${opts.configured ? null : html`<p class="note">No voicemail service configured.</p>`}${picker}${list}`);
}

export function meHome(ctx: PageContext, account: string, devices: readonly OnlineBinding[], groups: readonly string[]): string {
  return layout(
    ctx,
    'My account',
    html`<dl class="facts"><dt>SIP account</dt><dd>${account}</dd><dt>Calling rights</dt><dd>${groups.length > 0 ? groups.join(', ') : 'none'}</dd></dl><h2>My devices</h2>${devicesTable(devices)}`,
  );
}

export function forwardingPage(ctx: PageContext, prefs: { callfwd: string; fwdbusy: string; fwdnoanswer: string; fwdnoanswer_timeout: string }): string {
  const row = (name: string, label: string, value: string, hint: string) =>
    html`<p><label for="fw-${name}">${label}</label><input id="fw-${name}" name="${name}" value="${value}" placeholder="${hint}"></p>`;
  return layout(
    ctx,
    'Call forwarding',
    html`<p>Leave a field empty to switch that forwarding off. Targets are SIP URIs, e.g. sip:bob@example.com.</p>
<form method="post" action="/me/forwarding" class="card">${csrfField(ctx)}
${row('callfwd', 'Always forward to', prefs.callfwd, 'sip:bob@example.com')}
${row('fwdbusy', 'When busy, forward to', prefs.fwdbusy, 'sip:bob@example.com')}
${row('fwdnoanswer', 'When not answered, forward to', prefs.fwdnoanswer, 'sip:bob@example.com')}
${row('fwdnoanswer_timeout', 'No-answer timeout (seconds)', prefs.fwdnoanswer_timeout, '30')}
<p><button type="submit">Save</button></p>
</form>`,
  );
}

export function passwordPage(ctx: PageContext): string {
  return layout(
    ctx,
    'Change password',
    html`<p>The new password works for your phones at once (the proxy reads it on every REGISTER).</p>
<form method="post" action="/me/password" class="card">${csrfField(ctx)}
<p><label for="pw-current">Current password</label><input id="pw-current" name="current" type="password" autocomplete="current-password" required></p>
<p><label for="pw-new">New password</label><input id="pw-new" name="password" type="password" autocomplete="new-password" required minlength="6"></p>
<p><button type="submit">Change password</button></p>
</form>`,
  );
}
