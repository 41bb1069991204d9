export * from './logger.js';
export * from './timer-wheel.js';
