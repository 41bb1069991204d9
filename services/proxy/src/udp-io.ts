/**
 * Which UDP socket implementation the proxy runs on (config `udpIo`): @voip/udp-native's
 * recvmmsg/sendmmsg transport when it is built and loads, else Node's dgram. One decision per
 * process, logged once when `auto` has to fall back.
 */
import { loadError, native } from '@voip/udp-native';
import type { Logger } from '@voip/sip';
import type { ProxyConfig } from './config.js';

let warned = false;

/** True when UDP listeners use the native transport; throws for `native` without the addon. */
export function nativeUdp(config: Pick<ProxyConfig, 'udpIo'>, logger: Logger): boolean {
  if (config.udpIo === 'dgram') return false;
  if (native !== null) return true;
  if (config.udpIo === 'native') throw new Error(`udpIo native: the @voip/udp-native addon is ${loadError ?? 'unavailable'}`);
  if (!warned) {
    warned = true;
    logger.warn({ reason: loadError }, 'native UDP I/O unavailable: UDP runs on Node dgram sockets (udpIo auto)');
  }
  return false;
}
