export { name, init } from './speeddial-module.js';
