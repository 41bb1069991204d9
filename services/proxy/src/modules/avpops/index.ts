export { name, init, CallForwardModule, forwardingPreferences, type CallForwardSettings } from './avpops-module.js';
