export * from './names.ts';
export * from './tokens.ts';
export * from './envelope.ts';
export * from './enroll.ts';
export * from './renew.ts';
export * from './node-messages.ts';
export * from './node-inventory.ts';
export * from './desired-index.ts';
