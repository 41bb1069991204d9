// The integration harness: backends, process control, ports, SIPp runner and trace reader,
// raw SIP sockets. Suites import from here only.
export * from './backend.js';
export * from './errors.js';
export * from './paths.js';
export * from './ports.js';
export * from './process.js';
export * from './programs.js';
export * from './select-backend.js';
export * from './sip-socket.js';
export * from './sip-text.js';
export * from './sipp-trace.js';
export * from './sipp-assert.js';
export * from './workdir.js';
export { NativeBackend, NativeProgram } from './native-backend.js';
export { ContainersBackend, dockerAvailable } from './containers-backend.js';
