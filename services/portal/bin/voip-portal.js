#!/usr/bin/env node
// `voip-portal` command (package.json "bin"). npm links a workspace's bin into node_modules/.bin only
// when the target file exists at install time, and a fresh clone has no dist/ before the build,
// so the bin is this committed file, which runs the compiled program.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
if (!existsSync(main)) {
  process.stderr.write(`voip-portal: ${main} is missing: run \`npm run build\` first (in the repository root)\n`);
  process.exit(1);
}
// The program sees itself as argv[1], as if started directly (radius-acct runs only when
// argv[1] is its own file, so that tests can import it without starting it).
process.argv[1] = main;
await import(new URL('../dist/main.js', import.meta.url).href);
