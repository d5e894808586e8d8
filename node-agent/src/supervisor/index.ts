// The supervisor: pure core (job machine, KeepAlive, throttle, calendar), its runtime, and domains.
export { step, type StepResult } from './core/job-machine.ts';
export type { JobEvent, JobEventType, TimerId, TriggerKind } from './core/job-events.ts';
export type { JobEffect, JobEffectType, DemandSourceKind, StandingSourceKind } from './core/job-effects.ts';
export {
  STATE_TABLE,
  CRASH_SIGNALS,
  NOTHING_OBSERVED,
  initialJobState,
  isIdle,
  hasProcess,
  pidOf,
  type ActiveState,
  type CoarseState,
  type JobState,
  type JobSubState,
  type JobSubStateKind,
  type ExitStatus,
  type ImmediateReason,
  type ObservedConditions,
  type HistoryEntry,
  type SpawnFailureInfo,
} from './core/job-state.ts';
export { jobKeepalive, jobUseless, goodExit, type Verdict } from './core/keepalive.ts';
export { effectiveThrottleSec, throttleDelayMs, backoffExtraSec, trackRun } from './core/throttle.ts';
export {
  nextCalendarFiring,
  nextEntryFiring,
  dueCalendar,
  localToUtc,
  zoneOffset,
  fixedOffset,
  type ZoneOffsetFn,
  type CalendarOptions,
} from './core/calendar.ts';
export {
  machineConfig,
  type MachineConfig,
  type ZeroThrottlePolicy,
  type TriggerWhileRunningPolicy,
  type IntervalDuringSleepPolicy,
} from './core/machine-config.ts';
export { JobRunner, type JobRunnerOptions } from './job-runner.ts';
export type { RunnerDomain, RuntimePorts } from './runner-ports.ts';
export type { SocketActivationHook } from './sockets/socket-activation-hook.ts';
export type { SupervisorLog, LogLevel } from './supervisor-log.ts';
export { listRow, formatPrint, signalNumber, type JobStatus, type ListRow } from './job-status.ts';
export {
  buildSpawnRequest,
  unsupportedKeyWarnings,
  DEFAULT_PATH,
  type SpawnDomain,
  type SpawnPlan,
} from './spawn-request.ts';
export { CalendarScheduler } from './calendar-scheduler.ts';
export type { JobRunnerEvent, JobEventListener } from './job-runner-events.ts';
export {
  SocketManager,
  DEFAULT_MAX_INETD_INSTANCES,
  type SocketManagerOptions,
} from './sockets/socket-manager.ts';
export { ClockJumpDetector } from './clock-jump-detector.ts';
export {
  Domain,
  signalName,
  formatPrintDisabled,
  type BootstrapReport,
  type BootstrapPathOptions,
  type DomainOptions,
} from './domains/domain.ts';
export {
  DomainManager,
  parseDomainTarget,
  type DomainManagerOptions,
  type DomainTarget,
} from './domains/domain-manager.ts';
export {
  LaunchdCode,
  LAUNCHD_ERROR_STRINGS,
  failure as launchdFailure,
  type LaunchdFailure,
  type LaunchdResult,
} from './domains/launchd-errors.ts';
export { OverrideStore } from './domains/override-store.ts';
export type { PlistLoader, PlistLoadContext, PlistIssue } from './domains/plist-loader.ts';
export { modelPlistLoader } from './domains/model-plist-loader.ts';
export {
  checkPlistPath,
  labelIsSafe,
  statePathFor,
  safeAbsolutePath,
  entryPath,
} from './domains/path-safety.ts';
