export type * from './ports/index.ts';
// The supervisor (job machine, runtime, domains).
export * from './supervisor/index.ts';
