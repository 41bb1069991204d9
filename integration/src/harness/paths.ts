/** Where the suite finds the repository's scenarios, configs and compiled services. */
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';

/** integration/dist/harness/paths.js -> repository root. */
export const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
export const scenariosDir = join(repoRoot, 'integration', 'scenarios');
export const dockerDir = join(repoRoot, 'docker');
export const kamailioStandardCfg = join(dockerDir, 'kamailio', 'standard.cfg');

/** Compiled entry of one of our services, e.g. serviceEntry('proxy'). */
export function serviceEntry(service: string): string {
  return join(repoRoot, 'services', service, 'dist', 'main.js');
}

/** A scenario file by bare name ('reg-new') or a path as given. */
export function scenarioPath(nameOrPath: string): string {
  if (nameOrPath.includes('/')) return nameOrPath;
  return join(scenariosDir, nameOrPath.endsWith('.xml') ? nameOrPath : `${nameOrPath}.xml`);
}

/** The compiled readiness probe run inside isolated networks. */
export const sipReadyCli = fileURLToPath(new URL('./sip-ready-cli.js', import.meta.url));
