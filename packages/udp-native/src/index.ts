export { native, loadError } from './binding.js';
export type { UdpNativeBinding } from './binding.js';
export { forEachDatagram, ipv4Name, ipv6Name, META_WORDS } from './batch.js';
export type { DatagramVisitor } from './batch.js';
export { NativeUdpTransport, openSharedUdpSocket, closeSharedUdpSocket, nativeQueueDrops } from './native-udp-transport.js';
export type { SharedUdpSocket, SharedUdpSocketOptions } from './native-udp-transport.js';
