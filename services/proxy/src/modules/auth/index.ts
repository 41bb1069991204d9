export { name, init, type AuthSettings, type AuthModuleHandle, type GuessingSettings } from './auth-module.js';
export { AuthFailureLimiter } from './auth-failure-limiter.js';
export { defaultStateDir, loadOrCreateNonceSecret } from './nonce-secret-store.js';
export { DigestAuthenticator, type AuthOutcome, type AuthInput } from './digest-authenticator.js';
export { NonceManager } from './nonce-manager.js';
export { parseDigestCredentials, type DigestCredentials } from './digest-credentials.js';
export { computeResponse, algorithmByName } from './digest-response.js';
