// The provider portal as a library (tests, embedding): start it from a config.
export { startPortal, type RunningPortal, type PortalOptions } from './portal.js';
export { loadConfig, configFromEnv, configFromFile, PortalConfigSchema, type PortalConfig, type PortalConfigInput } from './config.js';
export { PORTAL_ERRORS, PortalError, type PortalErrorCode } from './errors.js';
export { SESSION_COOKIE } from './portal-server.js';
export { hashPassword, verifyPassword } from './auth/password-hash.js';
export type { Mailer } from './clients/mailer.js';
