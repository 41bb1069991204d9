export { name, init } from './uri-module.js';
