/**
 * The main thread's side of `workers: 1` with `loopThread` (loop-thread.ts): start the proxy's
 * one event loop in a worker thread with a sized young generation, wait until it listens, stop
 * it on close. A thread that dies or fails ends the proxy (`failed`), so the supervisor
 * restarts it whole, as with `workers` > 1.
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from '@voip/sip';
import type { ProxyConfig } from '../config.js';
import type { FromLoop, LoopThreadData, ToLoop } from './loop-thread.js';
import { proxyThreadResourceLimits } from './young-generation.js';

export interface RunningLoop {
  readonly listening: string[];
  readonly adminUrl: string | null;
  /** Resolves when the proxy must stop because its thread died or failed (with the error). */
  readonly failed: Promise<Error>;
  close(): Promise<void>;
}

export async function runLoopThread(config: ProxyConfig, logger: Logger): Promise<RunningLoop> {
  const log = logger.child({ layer: 'proxy.cluster' });
  const data: LoopThreadData = { config };
  const worker = new Worker(new URL('./loop-thread.js', import.meta.url), {
    workerData: data,
    resourceLimits: proxyThreadResourceLimits(config.workerYoungGenerationMb),
  });
  let closing = false;
  let onStopped: (() => void) | null = null;
  let fail: (err: Error) => void = () => undefined;
  const failed = new Promise<Error>((resolve) => {
    fail = resolve;
  });

  const ready = new Promise<{ listening: string[]; admin: string | null }>((resolve, reject) => {
    worker.on('message', (m: FromLoop) => {
      switch (m.t) {
        case 'ready':
          resolve({ listening: m.listening, admin: m.admin });
          break;
        case 'stopped':
          onStopped?.();
          break;
        case 'failed': {
          const err = new Error(m.error);
          reject(err);
          if (!m.stopping) fail(err);
          else onStopped?.();
          break;
        }
      }
    });
    worker.on('error', (err) => {
      log.error({ err }, 'the proxy thread threw');
      reject(err);
      fail(err);
    });
    worker.on('exit', (code) => {
      const err = new Error(`the proxy thread exited (code ${code})`);
      reject(err);
      if (!closing) fail(err);
      onStopped?.();
    });
  });

  let started: { listening: string[]; admin: string | null };
  try {
    started = await ready;
  } catch (err) {
    closing = true;
    await worker.terminate();
    throw err;
  }
  return {
    listening: started.listening,
    adminUrl: started.admin,
    failed,
    close: () => {
      if (closing) return Promise.resolve();
      closing = true;
      return new Promise<void>((resolve) => {
        onStopped = resolve;
        const stop: ToLoop = { t: 'stop' };
        worker.postMessage(stop);
      });
    },
  };
}
