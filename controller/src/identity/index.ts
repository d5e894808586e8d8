export * from './permissions.ts';
export * from './nats-jwts.ts';
export * from './key-store.ts';
export * from './nats-identity.ts';
export * from './provision.ts';
export * from './trust-publisher.ts';
export * from './bundle-publisher.ts';
export * from './stream-limits.ts';
