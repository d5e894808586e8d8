// The agent's local control API as other packages use it (`@launchfleet/node-agent/control`):
// the wire types, the client, and where the server listens.
export type * from './wire.ts';
export { READ_ONLY_METHODS } from './wire.ts';
export { ControlClient, ControlCallError } from './control-client.ts';
export { ControlServer, socketPaths, type ControlServerOptions } from './control-server.ts';
