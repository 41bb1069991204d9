export { name, init, PikeGuard, networkList, inNetworks, type PikeSettings } from './pike-guard.js';
