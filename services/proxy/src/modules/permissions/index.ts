export { name, init, PermissionsModule, canonicalIp, type PermissionsSettings } from './permissions-module.js';
