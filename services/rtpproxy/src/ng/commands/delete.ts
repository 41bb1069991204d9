import type { BencodeDict } from '@voip/ng';
import { requireStr, str } from '../ng-params.js';
import type { NgCommand } from './command.js';

/** ng "delete": ends the call (BYE, CANCEL, failed INVITE) and returns its final counters. */
export const del: NgCommand = (d, ctx) => {
  const callId = requireStr(d, 'call-id');
  const report = ctx.table.delete(callId, str(d, 'from-tag'));
  return { result: 'ok', ...(report as BencodeDict) };
};
