import type { Transport } from '@voip/sip';

/** `udp:127.0.0.1:5060`, `tcp:[::1]:5060`, … as the start-up line prints where a proxy listens. */
export function listenList(transports: readonly Transport[]): string[] {
  return transports.map((t) => `${t.protocol.toLowerCase()}:${t.local.address.includes(':') ? `[${t.local.address}]` : t.local.address}:${t.local.port}`);
}
