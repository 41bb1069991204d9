export { name, init, ACC_FLAG, ACC_MISSED_FLAG } from './acc.js';
