export { name, init, type RegistrarSettings } from './registrar.js';
