/**
 * Input checks shared by the pages and the JSON API. Forms send strings (an empty field means
 * "not given"); JSON may send numbers: `fieldValues` turns both into one shape. Values are
 * checked for length and form, never escaped here: storage binds them as SQL parameters and the
 * pages escape them on output, so metacharacters are stored and shown verbatim.
 */
import { PortalError } from './errors.js';

/** RFC 3261 §25.1 user: unreserved / escaped / user-unreserved (& = + $ , ; ? /). */
const SIP_USER_RE = /^(?:[A-Za-z0-9\-_.!~*'()&=+$,;?/]|%[0-9A-Fa-f]{2}){1,64}$/;
/** A host name or IPv4 literal, as the domain table holds them. */
const DOMAIN_RE = /^(?=.{1,64}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

export function checkUser(v: unknown, what = 'username'): string {
  if (typeof v !== 'string' || !SIP_USER_RE.test(v)) throw new PortalError('PORTAL_ERR_BAD_INPUT', `${what} must be 1-64 characters of a SIP user part (RFC 3261 §25.1)`);
  return v;
}

export function checkDomain(v: unknown, what = 'domain'): string {
  if (typeof v !== 'string' || !DOMAIN_RE.test(v)) throw new PortalError('PORTAL_ERR_BAD_INPUT', `${what} must be a host name of at most 64 characters`);
  return v.toLowerCase();
}

/** user@domain (the last @ splits: a user part may not contain @ anyway). */
export function checkAccount(v: unknown, what = 'account'): { username: string; domain: string } {
  if (typeof v !== 'string') throw new PortalError('PORTAL_ERR_BAD_INPUT', `${what} must be user@domain`);
  const at = v.lastIndexOf('@');
  if (at <= 0) throw new PortalError('PORTAL_ERR_BAD_INPUT', `${what} must be user@domain`);
  return { username: checkUser(v.slice(0, at), `${what} user`), domain: checkDomain(v.slice(at + 1), `${what} domain`) };
}

export function checkText(v: unknown, what: string, max: number, opts: { required?: boolean } = {}): string | null {
  if (v === undefined || v === null || v === '') {
    if (opts.required) throw new PortalError('PORTAL_ERR_BAD_INPUT', `${what} is required`);
    return null;
  }
  if (typeof v !== 'string' && typeof v !== 'number') throw new PortalError('PORTAL_ERR_BAD_INPUT', `${what} must be text`);
  const s = String(v);
  // Control characters would corrupt CSV exports and logs; everything printable is kept as typed.
  // eslint-disable-next-line no-control-regex
  if (s.length > max || /[\u0000-\u001f\u007f]/.test(s)) throw new PortalError('PORTAL_ERR_BAD_INPUT', `${what} must be at most ${max} printable characters`);
  return s;
}

export function checkInt(v: unknown, what: string, min: number, max: number, opts: { required?: boolean; fallback?: number } = {}): number | null {
  if (v === undefined || v === null || v === '') {
    if (opts.fallback !== undefined) return opts.fallback;
    if (opts.required) throw new PortalError('PORTAL_ERR_BAD_INPUT', `${what} is required`);
    return null;
  }
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d{1,10}$/.test(v.trim()) ? Number(v.trim()) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) throw new PortalError('PORTAL_ERR_BAD_INPUT', `${what} must be an integer from ${min} to ${max}`);
  return n;
}

export function checkChoice<T extends string>(v: unknown, what: string, choices: readonly T[]): T {
  if (typeof v !== 'string' || !(choices as readonly string[]).includes(v)) throw new PortalError('PORTAL_ERR_BAD_INPUT', `${what} must be one of ${choices.join(', ')}`);
  return v as T;
}

/** A SIP password for a subscriber: printable, 6..64 (password VARCHAR(64)). */
export function checkSipPassword(v: unknown): string {
  if (typeof v !== 'string' || v.length < 6 || v.length > 64 || /[\u0000-\u001f\u007f]/.test(v)) { // eslint-disable-line no-control-regex
    throw new PortalError('PORTAL_ERR_BAD_INPUT', 'password must be 6-64 printable characters');
  }
  return v;
}

/** A regular expression column (trusted, lcr): compiled once here so a broken one never reaches the proxy. */
export function checkPattern(v: unknown, what: string): string | null {
  const s = checkText(v, what, 64);
  if (s === null) return null;
  try {
    new RegExp(s);
  } catch {
    throw new PortalError('PORTAL_ERR_BAD_INPUT', `${what} is not a valid regular expression`);
  }
  return s;
}

/** Body of a form or JSON request as a plain record (anything else is empty). */
export function bodyOf(body: unknown): Record<string, unknown> {
  return body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
}
