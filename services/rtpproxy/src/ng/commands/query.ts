import type { BencodeDict } from '@voip/ng';
import { requireStr } from '../ng-params.js';
import type { NgCommand } from './command.js';

/** ng "query": per-tag, per-stream endpoints and packet/byte/error counters of a call. */
export const query: NgCommand = (d, ctx) => {
  const report = ctx.table.query(requireStr(d, 'call-id'));
  return { result: 'ok', ...(report as BencodeDict) };
};
