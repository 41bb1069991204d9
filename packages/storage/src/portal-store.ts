/**
 * The queries of the provider portal (services/portal, issue 12) that the proxy and sipctl do not
 * need: a paginated, searchable subscriber list with its count, disabling a subscriber, the CDR
 * search over Kamailio's `acc` / `missed_calls`, the portal's administrator accounts and pending
 * sign-ups. Additive to `Storage`: the repositories there keep their signatures; the portal opens
 * a PortalStore over the Storage it already has (`openPortalStore`).
 */
import { randomBytes } from 'node:crypto';
import type { Subscriber } from './storage.js';

export interface SubscriberPageQuery {
  /** Substring of username, domain or e-mail address (matched literally: % and _ are not wildcards). */
  search?: string;
  domain?: string;
  offset: number;
  /** 1..500. */
  limit: number;
}

export interface SubscriberListRow {
  username: string;
  domain: string;
  emailAddress: string | null;
  disabled: boolean;
}

export interface SubscriberPage {
  /** Rows matching the query, all pages together. */
  total: number;
  rows: SubscriberListRow[];
}

/** Which accounting table: answered calls (`acc`, INVITE 2xx and BYE rows) or `missed_calls`. */
export type CdrKind = 'acc' | 'missed';

export interface CdrQuery {
  kind: CdrKind;
  /** Calls where this account is the caller (src_user@src_domain) or the callee (dst_user / dst_ouser). */
  account?: { username: string; domain: string };
  /** Caller or callee user part equal to this (admin search by user name). */
  user?: string;
  /** Dialled number (dst_ouser) or routed number (dst_user) starting with these characters. */
  number?: string;
  /** Epoch ms, inclusive. */
  from?: number;
  /** Epoch ms, exclusive. */
  to?: number;
  /** Keyset pagination: rows with an id below this one (the previous page's `nextBefore`). */
  before?: number;
  /** 1..1000. */
  limit: number;
}

/** One call: the INVITE row of `acc` (or the `missed_calls` row), its duration from the BYE. */
export interface CdrRow {
  id: number;
  kind: CdrKind;
  /** Epoch ms of the INVITE's final response (acc `time`, stored as UTC). */
  time: number;
  callid: string;
  srcUser: string;
  srcDomain: string;
  srcIp: string;
  /** The number as dialled (To user). */
  dstOuser: string;
  /** The number after routing (R-URI user, e.g. E.164 towards a gateway). */
  dstUser: string;
  dstDomain: string;
  sipCode: number;
  sipReason: string;
  userAgent: string;
  /** Seconds from the INVITE's row to the first BYE of the same Call-ID; null: no BYE (yet) or a missed call. */
  duration: number | null;
}

export interface CdrPage {
  rows: CdrRow[];
  /** Give as `before` for the next (older) page; null when this was the last. */
  nextBefore: number | null;
}

export type PortalRole = 'admin';

export interface PortalAccountRow {
  name: string;
  role: PortalRole;
  /** scrypt$N$r$p$salt$hash (services/portal/src/auth/password-hash.ts). */
  passwordHash: string;
  created: number;
}

export interface SignupRow {
  /** SHA-256 hex of the token sent in the confirmation link. */
  tokenHash: string;
  username: string;
  domain: string;
  email: string;
  /** Epoch ms after which the link no longer confirms. */
  expires: number;
}

export interface PortalStore {
  subscriberPage(q: SubscriberPageQuery): Promise<SubscriberPage>;
  isDisabled(username: string, domain: string): Promise<boolean>;
  /**
   * Disables the account: its credentials move to portal_disabled and the subscriber row gets
   * random ones nobody knows. False when no such account or already disabled.
   */
  disable(username: string, domain: string, reason: 'admin' | 'signup'): Promise<boolean>;
  /**
   * Creates an account that starts disabled (a sign-up awaiting its confirmation): the row is
   * written with random credentials first, so the real ones never work before `enable`.
   * Fails with STORAGE_ERR_DUPLICATE when the account exists.
   */
  addDisabled(s: Subscriber, reason: 'admin' | 'signup'): Promise<void>;
  /** Puts the saved credentials back. False when the account was not disabled. */
  enable(username: string, domain: string): Promise<boolean>;
  /**
   * New credentials for an account, enabled or not: a disabled account keeps its random
   * subscriber credentials and the new ones wait in portal_disabled. False when no such account.
   */
  setCredentials(username: string, domain: string, password: string, ha1: string, ha1b: string): Promise<boolean>;
  /** Edits the account's e-mail address (the OpenSER column `email_address`). False when no such account. */
  setEmail(username: string, domain: string, email: string): Promise<boolean>;
  /** Saved (real) credentials of a disabled account, or null. */
  savedCredentials(username: string, domain: string): Promise<Pick<Subscriber, 'password' | 'ha1' | 'ha1b'> | null>;
  cdrs(q: CdrQuery): Promise<CdrPage>;
  getAccount(name: string): Promise<PortalAccountRow | null>;
  /** Fails with STORAGE_ERR_DUPLICATE when the name is taken. */
  addAccount(row: PortalAccountRow): Promise<void>;
  setAccountHash(name: string, passwordHash: string): Promise<boolean>;
  listAccounts(): Promise<PortalAccountRow[]>;
  /** Fails with STORAGE_ERR_DUPLICATE when a sign-up for the account is pending. */
  addSignup(row: SignupRow): Promise<void>;
  /** The pending sign-up of this token (removed), or null when unknown or expired at `now`. */
  takeSignup(tokenHash: string, now: number): Promise<SignupRow | null>;
  /** Removes expired sign-ups; the accounts they created (still disabled) are removed too. The number removed. */
  purgeSignups(now: number): Promise<number>;
}

/** Credentials nobody knows: what a disabled subscriber row carries (fits password VARCHAR(64), ha1 VARCHAR(128)). */
export function lockedCredentials(): { password: string; ha1: string; ha1b: string } {
  return { password: randomBytes(32).toString('hex'), ha1: randomBytes(16).toString('hex'), ha1b: randomBytes(16).toString('hex') };
}

/** Escapes LIKE metacharacters so a search for "50%_off" finds that text literally. */
export function likeLiteral(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}
