export { name, init, type AuthSettings } from './auth-module.js';
export { DigestAuthenticator, type AuthOutcome, type AuthInput } from './digest-authenticator.js';
export { NonceManager } from './nonce-manager.js';
export { parseDigestCredentials, type DigestCredentials } from './digest-credentials.js';
export { computeResponse, algorithmByName } from './digest-response.js';
