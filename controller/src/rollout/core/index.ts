/**
 * The rollout engine's pure core (issue 7): spec, observations, health gate, planner and state
 * machine. No I/O here: the runtime persists the state (JetStream KV, compare-and-set) and
 * applies the actions.
 */
export * from './rollout-spec.ts';
export * from './node-observation.ts';
export * from './health-gate.ts';
export * from './rollout-planner.ts';
export * from './rollout-state.ts';
export * from './rollout-machine.ts';
