/**
 * Entry point of the one proxy thread of `workers: 1` with `loopThread` (the default): the whole
 * proxy — its own sockets, transactions, routing, admin API, accounting — on one event loop, as
 * on the main thread, but in an isolate whose young generation the main thread sized
 * (`workerYoungGenerationMb`, config.ts explains why). Nothing crosses threads on the call path;
 * the main thread only learns where the proxy listens, asks it to stop, and exits with it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { pino } from 'pino';
import type { ProxyConfig } from '../config.js';
import { startProxy } from '../server.js';
import { warmUp } from '../warm-up.js';
import { listenList } from './listen-list.js';

export interface LoopThreadData {
  config: ProxyConfig;
}

/** Main -> loop thread. */
export type ToLoop = { t: 'stop' };

/** Loop thread -> main. */
export type FromLoop =
  | { t: 'ready'; listening: string[]; admin: string | null }
  | { t: 'stopped' }
  | { t: 'failed'; error: string; stopping: boolean };

const port = parentPort!;
const { config } = workerData as LoopThreadData;
const logger = pino({ level: config.logLevel, base: { service: 'sip-proxy' } });

const send = (m: FromLoop): void => port.postMessage(m);

try {
  // JIT warm-up before the sockets open (warm-up.ts), in this isolate: it is the one that runs.
  await warmUp(config, config.warmUpCalls);
  const proxy = await startProxy(config, logger);
  port.on('message', (m: ToLoop) => {
    if (m.t !== 'stop') return;
    proxy.close().then(
      () => {
        send({ t: 'stopped' });
        port.close();
      },
      (err: unknown) => send({ t: 'failed', error: (err as Error).message, stopping: true }),
    );
  });
  send({ t: 'ready', listening: listenList(proxy.transports), admin: proxy.adminUrl });
} catch (err) {
  logger.fatal({ err }, 'sip-proxy failed to start');
  send({ t: 'failed', error: (err as Error).message, stopping: false });
}
