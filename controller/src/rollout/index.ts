// Rollouts (`@launchfleet/controller/rollout`): the pure core, and the runtime, store and lease
// that persist and drive it.
export * from './core/index.ts';
export * from './rollout-runtime.ts';
export * from './rollout-store.ts';
export * from './rollout-lease.ts';
