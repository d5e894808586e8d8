export * from './bootstrap-token.ts';
export * from './token-store.ts';
export * from './node-registry.ts';
export * from './enrollment-service.ts';
export * from './renewal-service.ts';
export * from './revocation-push.ts';
