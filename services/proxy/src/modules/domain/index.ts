export { name, init, DomainModule, type DomainSettings } from './domain-module.js';
