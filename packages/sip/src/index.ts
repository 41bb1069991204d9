// Public API of @voip/sip. Services import only from here (STYLE.md, Boundaries).
export * from './util/index.js';
export * from './message/index.js';
export * from './transport/index.js';
export * from './transaction/index.js';
