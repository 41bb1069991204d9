import type { NgCommand } from './command.js';

/** ng "ping": liveness check sent by the SIP proxy's rtpengine module before use. */
export const ping: NgCommand = () => ({ result: 'pong' });
