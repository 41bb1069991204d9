export { name, init, type RtpengineSettings, type RtpengineModule } from './rtpengine-module.js';
export { NgRelaySet, parseRelayUrl, NgTimeoutError, type NgRelay } from './ng-relay-set.js';
