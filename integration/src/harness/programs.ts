/**
 * The lab's programs by name: how the native backend runs each (a local binary, or one of
 * our compiled services under node) and which image the containers backend uses (the images
 * compose.yaml builds or pulls). Other suites (rtpproxy, radius) start theirs through
 * Backend.startProgram with these names.
 */
import { serviceEntry } from './paths.js';

export interface ProgramSpec {
  /** Native: executable and leading arguments. */
  native: { command: string; args: string[] };
  /** Containers: image (env override `INTEGRATION_IMAGE_<NAME>`), entrypoint if not the image's. */
  image: string;
  entrypoint?: string[];
  /** Dockerfile (relative to the repository root, which is the build context) for `image`. */
  dockerfile?: string;
  /** Build arguments for `dockerfile` (the shared node-service recipe takes SERVICE). */
  buildArgs?: Record<string, string>;
}

function node(service: string): { command: string; args: string[] } {
  return { command: process.execPath, args: ['--enable-source-maps', serviceEntry(service)] };
}

export const PROGRAMS: Readonly<Record<string, ProgramSpec>> = {
  'sip-proxy': { native: node('proxy'), image: 'voip-stack/proxy:dev', dockerfile: 'services/proxy/Dockerfile' },
  'rtp-relay': { native: node('rtpproxy'), image: 'voip-stack/rtpproxy:dev', dockerfile: 'docker/node-service/Dockerfile', buildArgs: { SERVICE: 'rtpproxy' } },
  'radius-acct': { native: node('radius-acct'), image: 'voip-stack/radius-acct:dev', dockerfile: 'docker/node-service/Dockerfile', buildArgs: { SERVICE: 'radius-acct' } },
  sipp: { native: { command: 'sipp', args: [] }, image: 'voip-stack/sipp:3.6.1', entrypoint: ['sipp'], dockerfile: 'docker/sipp/Dockerfile' },
  kamailio: { native: { command: 'kamailio', args: [] }, image: 'voip-stack/kamailio:5.6', entrypoint: ['kamailio'], dockerfile: 'docker/kamailio/Dockerfile' },
  freeradius: { native: { command: 'freeradius', args: [] }, image: 'voip-stack/freeradius:3.2', entrypoint: ['freeradius'], dockerfile: 'docker/freeradius/Dockerfile' },
  rtpengine: { native: { command: 'rtpengine', args: [] }, image: 'voip-stack/rtpengine:10.5', entrypoint: ['rtpengine'], dockerfile: 'docker/rtpengine/Dockerfile' },
};

export function imageFor(name: string, spec: ProgramSpec): string {
  const key = `INTEGRATION_IMAGE_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
  return process.env[key] ?? spec.image;
}
