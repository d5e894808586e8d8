export type * from './ports/index.ts';
// Real OS adapters (ports/) and the native pieces.
export { RealProcessSpawner, type RealProcessSpawnerOptions } from './adapters/process-spawner.ts';
export { PosixProcessSpawner, type PosixProcessSpawnerOptions } from './adapters/posix-spawner.ts';
export { DirectProcessSpawner, type DirectProcessSpawnerOptions } from './adapters/direct-spawner.ts';
export { createProcessSpawner, chosenSpawnerKind, type SpawnerKind } from './adapters/spawner-choice.ts';
export { buildShimArgs, type StdioOpenFailurePolicy } from './adapters/exec-shim-protocol.ts';
export { RealFileSystem, type RealFileSystemOptions } from './adapters/file-system.ts';
export { RealUserDb, type RealUserDbOptions, type CommandRunner } from './adapters/user-db.ts';
export * from './adapters/native-sockets.ts';
export {
  resolveNode,
  resolveService,
  parseServices,
  type ResolvedAddress,
  type ServiceProtocol,
} from './adapters/socket-names.ts';
export { NativeBuildMissingError, nativeBuildDir, execShimPath } from './adapters/native-build.ts';
export { NativeSocketPort, type NativeSocketPortOptions } from './adapters/socket-port.ts';
export { writeFileAtomic } from './adapters/atomic-write.ts';
export { machineClock } from './adapters/boot-clock.ts';
export { parseUtmp, utmpRecord, UTMP_RECORD_SIZE, type UtmpLogin } from './agent/utmp.ts';
export { AGENT_NODE_FLAGS } from './agent/node-flags.ts';
// The supervisor (job machine, runtime, domains).
export * from './supervisor/index.ts';
