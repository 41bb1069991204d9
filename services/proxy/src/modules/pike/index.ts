export { name, init, PikeGuard, networkList, inNetworks, type PikeSettings, type TrustedPeer } from './pike-guard.js';
