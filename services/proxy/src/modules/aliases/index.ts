export { name, init, type AliasSettings } from './aliases-module.js';
