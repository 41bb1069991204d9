import { str } from '../ng-params.js';
import type { NgCommand } from './command.js';

const DEFAULT_LIMIT = 32; // rtpengine's default for "list"
const MAX_LIMIT = 100_000;

/** ng "list": the call-ids of active calls, at most "limit" of them. */
export const list: NgCommand = (d, ctx) => {
  const raw = str(d, 'limit');
  const n = raw === null ? DEFAULT_LIMIT : Number.parseInt(raw, 10);
  const limit = Number.isFinite(n) && n >= 0 ? Math.min(n, MAX_LIMIT) : DEFAULT_LIMIT;
  return { result: 'ok', calls: ctx.table.list(limit) };
};
