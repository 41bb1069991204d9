/**
 * The heap limits of the proxy's threads (worker threads for `workers` > 1 and the one loop
 * thread of `workers: 1`): each gets a young generation of `workerYoungGenerationMb` (config.ts
 * says why that size), kept at that size.
 *
 * Why "kept": V8 starts a new space small, grows it under allocation and shrinks it again when a
 * scavenge finds little alive, releasing the pages it gave up; the next growth faults them in
 * afresh, zeroed by the kernel. A proxy allocates steadily (≈ 90 KB per relayed call) with a
 * low survival rate, so its new space kept shrinking and regrowing: at 2000 calls/s, 8–13 k
 * page faults a second, most of them inside the scavenger (perf record -e page-faults). With a
 * minimum semi-space set as below: 3 k a second, and about 11 % less CPU per call and a lower p99
 * INVITE→200 in every one of four interleaved pairs (bench/README.md).
 *
 * Node's `resourceLimits` has no minimum, so the minimum goes through V8's process-wide
 * `--min-semi-space-size` before the threads are created (V8 reads it when it sets up an
 * isolate's heap; threads started earlier and the main thread keep theirs): a third of the
 * young generation, rounded up to whole MB. Scavenges stayed as frequent (269 vs 268 in a 10 s
 * step at 2000 calls/s) and as short (2.2 vs 2.3 ms mean): only the page churn went.
 */
import type { ResourceLimits } from 'node:worker_threads';
import { setFlagsFromString } from 'node:v8';

export function proxyThreadResourceLimits(youngGenerationMb: number): ResourceLimits {
  setFlagsFromString(`--min-semi-space-size=${Math.ceil(youngGenerationMb / 3)}`);
  return { maxYoungGenerationSizeMb: youngGenerationMb };
}
