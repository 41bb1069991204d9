// Public surface of @voip/rtpproxy for other workspaces (the SIP proxy's rtpengine
// module, integration tests, benchmarks): the ng client and the SDP parser, not the relay
// internals. The bencode codec of the ng protocol is the workspace package @voip/ng.
export { NgClient, type NgClientOptions } from './ng/ng-client.js';
export { parseSdp, type SessionDescription, type SdpMedia } from './sdp/sdp.js';
