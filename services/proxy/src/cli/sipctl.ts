#!/usr/bin/env node
/**
 * sipctl entry point (bin). See sipctl-program.ts and docs/sipctl.md.
 *   sipctl --db mysql://USER:PASS@HOST:PORT/DB add alice@example.com secret
 *   sipctl --proxy-admin http://127.0.0.1:8080 ul show
 */
import { processIo } from './output.js';
import { runSipctl } from './sipctl-program.js';

process.exitCode = await runSipctl(process.argv.slice(2), processIo);
