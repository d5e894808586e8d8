export * from './canonical.ts';
export * from './keys.ts';
export * from './job-bundle.ts';
export * from './sign.ts';
export * from './verify.ts';
export * from './trust-store.ts';
export * from './trust-store-file.ts';
