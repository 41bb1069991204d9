/**
 * USER@DOMAIN arguments of sipctl (the book's `openserctl add alice@example.com …`).
 * Limits are the subscriber table's column sizes (VARCHAR(64)).
 */
import { CliError } from './cli-error.js';

export interface Account {
  username: string;
  domain: string;
}

const USER_RE = /^[A-Za-z0-9\-_.!~*'()&=+$,;?/%]{1,64}$/;
const DOMAIN_RE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*\.?$|^\[[0-9A-Fa-f:.]{2,45}\]$/;

export function parseDomain(text: string): string {
  const d = text.trim();
  if (d.length === 0 || d.length > 64 || !DOMAIN_RE.test(d)) throw new CliError(`invalid domain "${text.slice(0, 80)}"`, 2);
  return d.toLowerCase();
}

export function parseAccount(text: string, what = 'account'): Account {
  const s = text.trim().replace(/^sips?:/i, '');
  const at = s.lastIndexOf('@');
  if (at <= 0 || at === s.length - 1) throw new CliError(`${what} must be USER@DOMAIN, got "${text.slice(0, 80)}"`, 2);
  const username = s.slice(0, at);
  if (!USER_RE.test(username)) throw new CliError(`invalid user part "${username.slice(0, 80)}" in ${what}`, 2);
  return { username, domain: parseDomain(s.slice(at + 1)) };
}

export function formatAccount(a: { username: string; domain: string }): string {
  return `${a.username}@${a.domain}`;
}
