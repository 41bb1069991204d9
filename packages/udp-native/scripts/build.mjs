#!/usr/bin/env node
// Builds build/udp_native.node from native/udp_native.c with the system C compiler ($CC, else
// cc) against the node-api-headers package: Node-API is ABI-stable, so no node-gyp and no Node
// source headers are needed, and one build runs on every Node >= 16.
//
// Without a compiler the proxy falls back to its JavaScript worker models (the loader reports
// why); VOIP_REQUIRE_NATIVE=1 (set by .ci/run and the node image) makes that an error instead.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'native', 'udp_native.c');
const target = join(root, 'build', 'udp_native.node');
const required = process.env.VOIP_REQUIRE_NATIVE === '1';

function fail(why) {
  if (required) {
    console.error(`@voip/udp-native: ${why} (VOIP_REQUIRE_NATIVE=1)`);
    process.exit(1);
  }
  console.warn(`@voip/udp-native: ${why}; the proxy uses its JavaScript worker models instead`);
  process.exit(0);
}

if (process.platform !== 'linux') fail(`not built on ${process.platform} (recvmmsg/sendmmsg are Linux)`);
if (existsSync(target) && statSync(target).mtimeMs >= statSync(source).mtimeMs) process.exit(0);

let include;
try {
  include = createRequire(import.meta.url)('node-api-headers').include_dir;
} catch {
  fail('the node-api-headers package is not installed');
}
mkdirSync(dirname(target), { recursive: true });
const cc = process.env.CC || 'cc';
const args = ['-O2', '-std=gnu11', '-Wall', '-Wextra', '-Wno-unused-parameter', '-fPIC', '-shared', '-pthread', '-fvisibility=hidden', `-I${include}`, source, '-o', target];
const r = spawnSync(cc, args, { stdio: 'inherit' });
if (r.error) fail(`no C compiler (${cc}: ${r.error.message})`);
if (r.status !== 0) fail(`${cc} failed (exit ${r.status})`);
console.log(`@voip/udp-native: built ${target}`);
