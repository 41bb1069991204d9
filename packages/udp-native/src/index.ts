export { native, loadError } from './binding.js';
export type { UdpNativeBinding } from './binding.js';
export { batchQueueWaitMs, forEachDatagram, ipv4Name, ipv6Name, BATCH_HEAD, META_WORDS } from './batch.js';
export type { DatagramVisitor } from './batch.js';
export { NativeUdpTransport, openSharedUdpSocket, closeSharedUdpSocket, nativeQueueDrops, nativeQueueWaitMs } from './native-udp-transport.js';
export type { SharedUdpSocket, SharedUdpSocketOptions } from './native-udp-transport.js';
