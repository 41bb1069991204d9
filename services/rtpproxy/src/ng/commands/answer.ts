import { parseSignalRequest } from '../ng-params.js';
import type { NgCommand } from './command.js';

/** ng "answer": SDP answer from the to-tag party; returns it rewritten for the offerer. */
export const answer: NgCommand = async (d, ctx) => {
  const { req, ignored } = parseSignalRequest(d);
  if (ignored.length > 0) ctx.log.debug({ callId: req.callId, ignored }, 'ignored ng flags');
  const sdp = await ctx.table.answer(req);
  return { result: 'ok', sdp };
};
