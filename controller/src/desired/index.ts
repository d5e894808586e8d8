// Desired state (`@launchfleet/controller/desired`): the service that signs and stores jobs, the
// desired index, and the helpers it runs on.
export * from './desired-state-service.ts';
export * from './desired-index.ts';
export * from './broker-connection.ts';
export * from './bounded-pool.ts';
