/** Building blocks shared by the bench:* benchmarks (SIPp, CPU, UDP counters, servers, reports). */
export * from './proc-stat.js';
export * from './udp-counters.js';
export * from './process-launcher.js';
export * from './net.js';
export * from './sipp-runner.js';
export * from './stats.js';
export * from './report-table.js';
export * from './rate-stepper.js';
export * from './servers.js';
export * from './bench-database.js';
export * from './cli.js';
