export { name, init, type RtpengineSettings, type RtpengineModule } from './rtpengine-module.js';
export { NgRelaySet, parseRelayUrl, NgTimeoutError, type NgRelay } from './ng-relay-set.js';
export { bencode, bdecode, isDict, type BencodeDict, type BencodeValue } from './bencode.js';
