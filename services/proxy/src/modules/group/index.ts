export { name, init, GroupModule, type GroupSettings } from './group-module.js';
