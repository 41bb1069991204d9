// Public surface of @voip/rtpproxy for other workspaces (the SIP proxy's rtpengine
// module, integration tests, benchmarks): the ng client and codecs, not the relay internals.
export { NgClient, type NgClientOptions } from './ng/ng-client.js';
export { bdecode, bencode, type BencodeDict, type BencodeValue } from './ng/bencode.js';
export { parseSdp, type SessionDescription, type SdpMedia } from './sdp/sdp.js';
