import { parseSignalRequest } from '../ng-params.js';
import type { NgCommand } from './command.js';

/** ng "offer": SDP offer from the from-tag party; returns it rewritten to point at the relay. */
export const offer: NgCommand = async (d, ctx) => {
  const { req, ignored } = parseSignalRequest(d);
  if (ignored.length > 0) ctx.log.debug({ callId: req.callId, ignored }, 'ignored ng flags');
  const sdp = await ctx.table.offer(req);
  return { result: 'ok', sdp };
};
