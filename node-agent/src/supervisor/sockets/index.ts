// On-demand sockets and inetd-style jobs (docs/launchd-semantics.md §4): the socket manager behind the
// supervisor's SocketActivationHook.
export { SocketManager, DEFAULT_MAX_INETD_INSTANCES, type SocketManagerOptions } from './socket-manager.ts';
export { JobSockets, type JobSocketsOptions, type OpenResult } from './job-sockets.ts';
export {
  planSockets,
  fdNameOf,
  SECURE_SOCKET_PREFIX,
  type PlannedSocket,
  type SocketPlan,
} from './socket-plan.ts';
export {
  formatSocketLines,
  type JobSocketsStatus,
  type SocketState,
  type SocketStatus,
} from './socket-status.ts';
