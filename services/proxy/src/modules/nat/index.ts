export { name, init, type NatSettings, type NatModule } from './nat-module.js';
export { NAT_TESTS, DEFAULT_NAT_TESTS, natTestMask, receivedUri, NatHelper, type NatTest } from './nathelper.js';
export { NatKeepalive, parseReceived, type KeepaliveTransports } from './nat-keepalive.js';
export { isPrivateAddress } from './address-class.js';
export { NatEdgeSink, forceRport } from './nat-edge-sink.js';
