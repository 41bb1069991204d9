import type { NgCommand } from './command.js';

/**
 * ng "statistics": current and total figures under rtpengine's key names (the subset
 * that applies to a userspace relay without transcoding or recording).
 */
export const statistics: NgCommand = (_d, ctx) => {
  const t = ctx.table.totals();
  const control: Record<string, number> = {};
  for (const [k, v] of ctx.commandCounts) control[`total${k}count`] = v;
  return {
    result: 'ok',
    statistics: {
      currentstatistics: {
        sessionsown: t.sessions,
        sessionsforeign: 0,
        sessionstotal: t.sessions,
        transcodedmedia: 0,
        media_userspace: t.portsInUse,
        media_kernel: 0,
      },
      totalstatistics: {
        uptime: String(Math.floor((Date.now() - ctx.startedAt) / 1000)),
        managedsessions: t.created,
        timeoutsessions: t.timedOut,
        regularterminatedsessions: t.deleted,
        relayedpackets: t.rtp.packets + t.rtcp.packets,
        relayedpacketerrors: t.rtp.errors + t.rtcp.errors,
        relayedbytes: t.rtp.bytes + t.rtcp.bytes,
        relayedpackets_user: t.rtp.packets + t.rtcp.packets,
        relayedpackets_kernel: 0,
      },
      controlstatistics: control,
      interfaces: ctx.table.interfaceUsage().map((i) => ({
        name: i.name,
        address: i.address,
        ports: { min: t.portMin, max: t.portMax, used: t.portsInUse * 2, free: (t.portsTotal - t.portsInUse) * 2, totals: t.portsTotal * 2 },
      })),
    },
  };
};
