/**
 * Free port allocation. SIP listens on UDP and TCP on the same port number, so a port is
 * handed out only when both a UDP and a TCP bind on it succeed. Ports come from below the
 * kernel's ephemeral range (32768-60999 on Linux) so an outgoing connection of some other
 * program cannot grab one between our check and the program's own bind, and each port is
 * handed out once per test process so parallel helpers never collide.
 */
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { HarnessError } from './errors.js';

const RANGE_LOW = 20_000;
const RANGE_HIGH = 32_000;
const handedOut = new Set<number>();

function tryTcp(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

function tryUdp(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    sock.once('error', () => {
      sock.close();
      resolve(false);
    });
    sock.bind({ address: host, port, exclusive: true }, () => sock.close(() => resolve(true)));
  });
}

/** True when both UDP and TCP can bind `host:port` right now. */
export async function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return (await tryUdp(host, port)) && (await tryTcp(host, port));
}

/** A port free for UDP and TCP on `host`, never returned twice by this process. */
export async function allocatePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = RANGE_LOW + Math.floor(Math.random() * (RANGE_HIGH - RANGE_LOW));
    if (handedOut.has(port)) continue;
    if (await isPortFree(port, host)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new HarnessError('HARNESS_ERR_NO_PORT', `no free UDP+TCP port on ${host} in ${RANGE_LOW}-${RANGE_HIGH}`);
}

/** `count` distinct free ports. */
export async function allocatePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(await allocatePort(host));
  return out;
}
