// The agent's Prometheus metrics (`@launchfleet/node-agent/metrics`): the registry, the HTTP
// server that exposes it, and a reader of the exposition text.
export * from './agent-metrics.ts';
export * from './metrics-server.ts';
export * from './prom-text.ts';
