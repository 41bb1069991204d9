/**
 * The lab's programs by name: how the native backend runs each (a local binary, or one of
 * our compiled services under node) and which image the containers backend uses (the images
 * compose.yaml builds or pulls). Other suites (rtpproxy, radius, voicemail, the big picture)
 * start theirs through Backend.startProgram with these names.
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

// Our services share one image (docker/node-service/Dockerfile): each bin is a command on
// its PATH. The others are Debian's packages in images of their own (scripts/docker/
// build-images.sh builds them all with these tags; so does `docker compose build`).
const NODE_IMAGE = { image: 'voip-stack/node:dev', dockerfile: 'docker/node-service/Dockerfile' };

export const PROGRAMS: Readonly<Record<string, ProgramSpec>> = {
  'sip-proxy': { native: node('proxy'), ...NODE_IMAGE, entrypoint: ['sip-proxy'] },
  'rtp-relay': { native: node('rtpproxy'), ...NODE_IMAGE, entrypoint: ['rtp-relay'] },
  'radius-acct': { native: node('radius-acct'), ...NODE_IMAGE, entrypoint: ['radius-acct'] },
  'voicemail-bridge': { native: node('voicemail-bridge'), ...NODE_IMAGE, entrypoint: ['voicemail-bridge'] },
  'voip-portal': { native: node('portal'), ...NODE_IMAGE, entrypoint: ['voip-portal'] },
  sipp: { native: { command: 'sipp', args: [] }, image: 'voip-stack/sipp:dev', entrypoint: ['sipp'], dockerfile: 'docker/sipp/Dockerfile' },
  kamailio: { native: { command: 'kamailio', args: [] }, image: 'voip-stack/kamailio:dev', entrypoint: ['kamailio'], dockerfile: 'docker/kamailio/Dockerfile' },
  freeradius: { native: { command: 'freeradius', args: [] }, image: 'voip-stack/freeradius:dev', entrypoint: ['freeradius'], dockerfile: 'docker/freeradius/Dockerfile' },
  rtpengine: { native: { command: 'rtpengine', args: [] }, image: 'voip-stack/rtpengine:dev', entrypoint: ['rtpengine'], dockerfile: 'docker/rtpengine/Dockerfile' },
};

export function imageFor(name: string, spec: ProgramSpec): string {
  const key = `INTEGRATION_IMAGE_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
  return process.env[key] ?? spec.image;
}
