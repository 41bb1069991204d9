// Public surface of @voip/voicemail-bridge for other workspaces (integration tests, the lab
// script, benchmarks): starting a bridge in-process and the formats tests check.
export { startBridge, type RunningBridge } from './bridge.js';
export { loadConfig, type VoicemailConfig, type VoicemailConfigInput } from './config.js';
export { formatMessageSummary, parseMessageSummary, MESSAGE_SUMMARY_TYPE, type MessageSummary } from './mwi/message-summary.js';
export { readWav, encodeWav, resampleTo8k, type WavAudio } from './media/wav.js';
export { encodeG711, decodeG711, type G711Law } from './media/g711.js';
export { VM_ERRORS, VoicemailError, type VoicemailErrorCode } from './errors.js';
