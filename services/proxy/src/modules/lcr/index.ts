export { name, init, LcrModule, type LcrSettings } from './lcr-module.js';
