export { name, init, Secfilter, type SecfilterSettings } from './secfilter.js';
