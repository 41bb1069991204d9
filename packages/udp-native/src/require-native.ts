/**
 * For tests: the addon, or a failure that says why. `npm run build` builds it wherever a C
 * compiler exists (CI installs one), so a test of native I/O fails rather than skips when it is
 * missing; VOIP_ALLOW_NO_NATIVE=1 runs the suite on a machine without a compiler (the proxy
 * falls back to dgram there, which its own tests cover).
 */
import type { TestContext } from 'node:test';
import { loadError, native, type UdpNativeBinding } from './binding.js';

export function requireNative(t: TestContext): UdpNativeBinding | null {
  if (native !== null) return native;
  if (process.env.VOIP_ALLOW_NO_NATIVE === '1') {
    t.skip(`@voip/udp-native ${loadError ?? 'unavailable'} (VOIP_ALLOW_NO_NATIVE=1)`);
    return null;
  }
  throw new Error(`@voip/udp-native ${loadError ?? 'unavailable'}: install a C compiler and run npm run build (or set VOIP_ALLOW_NO_NATIVE=1)`);
}
