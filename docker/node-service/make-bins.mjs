// Writes one /usr/local/bin wrapper per `bin` entry of the given services' package.json:
//   node docker/node-service/make-bins.mjs APP_DIR BIN_DIR proxy rtpproxy …
// The wrapper execs node on the compiled entry, so the program is PID 1's direct child of
// the shell-less exec chain and receives SIGTERM from `docker stop` itself.
import { readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

const [appDir, binDir, ...services] = process.argv.slice(2);
if (!appDir || !binDir || services.length === 0) {
  console.error('usage: make-bins.mjs APP_DIR BIN_DIR SERVICE…');
  process.exit(2);
}
mkdirSync(binDir, { recursive: true });
for (const service of services) {
  const dir = join(appDir, 'services', service);
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const bins = typeof manifest.bin === 'string' ? { [manifest.name.split('/').pop()]: manifest.bin } : (manifest.bin ?? {});
  for (const [name, rel] of Object.entries(bins)) {
    const target = resolve(dir, rel);
    if (!existsSync(target)) {
      console.error(`make-bins: ${service}: ${name} -> ${target} does not exist (not built?)`);
      process.exit(1);
    }
    const wrapperTarget = '/app' + target.slice(resolve(appDir).length);
    writeFileSync(join(binDir, name), `#!/bin/sh\nexec node --enable-source-maps ${wrapperTarget} "$@"\n`, { mode: 0o755 });
    console.log(`${name} -> ${wrapperTarget}`);
  }
}
