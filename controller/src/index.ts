/**
 * The controller's public API (`@launchfleet/controller`), for a program that runs a controller in
 * its own process (the integration suites and benchmarks do): start one from a config, its API
 * tokens, the gRPC protos and handlers, and the services a controller is assembled from. The
 * subsystems with more to offer have their own entry points (package.json `exports`):
 * `./identity`, `./enrollment`, `./desired`, `./rollout`, `./alerts`.
 */
export * from './api/start-controller.ts';
export * from './config/controller-config.ts';
export * from './auth/api-tokens.ts';
export * from './api/proto.ts';
export { descriptorSetFile, splitDescriptorSet, reflectionPackage } from './api/reflection.ts';
export { FleetHandlers, type FleetServices, type CallContext } from './api/fleet-handlers.ts';
export { RolloutHandlers } from './api/rollout-handlers.ts';
export * from './audit/audit-log.ts';
export * from './fleet/fleet-aggregator.ts';
