/** A running LaunchDaemon's status as the supervisor reports it; tests override what they exercise. */
import type { JobStatus } from '../supervisor/job-status.ts';

export function jobStatus(over: Partial<JobStatus> = {}): JobStatus {
  return {
    label: 'com.acme.backup',
    domain: 'system',
    type: 'LaunchDaemon',
    state: 'running',
    subState: 'running',
    active: 'active',
    result: 'success',
    pid: 42,
    runs: 1,
    forks: 1,
    minimumRuntime: 10,
    exitTimeout: 20,
    successiveCrashes: 0,
    disabled: false,
    timers: {},
    watchPaths: [],
    queueDirectories: [],
    armed: [],
    program: '/bin/sh',
    arguments: ['/bin/sh'],
    warnings: [],
    history: [],
    ...over,
  };
}
