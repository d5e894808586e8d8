import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ServiceStatus } from '../control/wire.ts';
import {
  formatList,
  formatListDict,
  formatPrintDomain,
  formatPrintRetrying,
  formatPrintService,
} from './print-format.ts';

const base: ServiceStatus = {
  label: 'com.example.x',
  domain: 'system',
  type: 'LaunchDaemon',
  state: 'not running',
  subState: 'exited',
  active: 'failed',
  result: 'exit-code',
  jobState: 'exited',
  runs: 3,
  program: '/bin/sh',
  arguments: ['/bin/sh', '-c', 'exit 1'],
  lastTerminatingSignal: 'SIGTERM',
  lastTerminatingSignalNumber: 15,
  properties: ['keepalive', 'runatload'],
  timers: { throttleMs: 10_000 },
};

test('list: a PID\\tStatus\\tLabel header and tab-separated rows', () => {
  assert.equal(
    formatList([
      { pid: '-', status: '-15', label: 'a' },
      { pid: '12', status: '0', label: 'b' },
    ]),
    'PID\tStatus\tLabel\n-\t-15\ta\n12\t0\tb\n',
  );
});

test('print: tab-indented fields; a signal death prints only the terminating signal line', () => {
  const t = formatPrintService(base, 0);
  assert.match(t, /^system\/com\.example\.x = \{\n\tactive count = 0\n/);
  assert.match(t, /\n\tlast terminating signal = Terminated: 15\n/);
  assert.doesNotMatch(t, /last exit code/);
  assert.match(t, /\n\ttimers = \{\n\t\tthrottle => in 10 s\n\t\}\n/);
  assert.match(
    t,
    /\n\tjob state = exited\n\tsub state = exited\n\tactive state = failed\n\tresult = exit-code\n/,
  );
  assert.match(t, /\n\tproperties = keepalive \| runatload\n\}\n$/);
  assert.doesNotMatch(t, /\n\n\n/);
  const { lastTerminatingSignal: _s, lastTerminatingSignalNumber: _n, ...clean } = base;
  assert.match(formatPrintService({ ...clean, lastExitCode: 78 }, 0), /\n\tlast exit code = 78: EX_CONFIG\n/);
  assert.match(formatPrintService(clean, 0), /\n\tlast exit code = \(never exited\)\n/);
  assert.match(
    formatPrintService({ ...clean, result: 'unknown' }, 0),
    /\n\tlast exit code = \(unknown: an adopted process, its status went to init\)\n/,
  );
});

test('list <label>: the NeXT dictionary with the raw wait status', () => {
  const t = formatListDict({ ...base, pid: 42 });
  assert.match(t, /^\{\n\t"LimitLoadToSessionType" = "System";\n\t"Label" = "com\.example\.x";\n/);
  assert.match(t, /\t"LastExitStatus" = 15;\n\t"PID" = 42;\n/);
  const { lastTerminatingSignal: _s, lastTerminatingSignalNumber: _n, ...clean } = base;
  assert.match(formatListDict({ ...clean, lastExitCode: 1 }), /\t"LastExitStatus" = 256;\n/);
});

test('print <domain>: the jobs the fleet link retries come after the services, only when there are some', () => {
  const d = {
    domain: 'system',
    type: 'system',
    activeCount: 1,
    services: [{ pid: '12', status: '0', label: 'com.example.a' }],
    disabled: { 'com.example.off': true },
  };
  const calm = formatPrintDomain(d, 1_000_000);
  assert.equal(
    calm,
    'system = {\n\ttype = system\n\tactive count = 1\n\n\tservices = {\n\t\t12\t0\tcom.example.a\n\t}\n\n' +
      '\tdisabled services = {\n\t\t"com.example.off" => disabled\n\t}\n}\n',
  );
  const busy = formatPrintDomain(
    {
      ...d,
      retrying: [
        {
          label: 'com.example.late',
          failures: 2,
          why: 'ENOSPC: no space left on device',
          nextAttemptAtMs: 1_004_000,
        },
        { label: 'com.example.now', failures: 0, why: '', nextAttemptAtMs: 0 },
      ],
    },
    1_000_000,
  );
  assert.equal(
    busy,
    calm.replace(
      '\tdisabled services',
      '\tretrying services = {\n' +
        '\t\t"com.example.late" => failed 2 times, next attempt in 4 s: ENOSPC: no space left on device\n' +
        '\t\t"com.example.now" => being tried now\n\t}\n\n\tdisabled services',
    ),
  );
});

test('print <service-target> of a service the fleet link is retrying: what, why and when', () => {
  assert.equal(
    formatPrintRetrying(
      'system/com.example.late',
      {
        label: 'com.example.late',
        failures: 1,
        why: 'ENOSPC: no space left on device',
        nextAttemptAtMs: 1_002_000,
      },
      1_000_000,
    ),
    'system/com.example.late = {\n' +
      '\tstate = not loaded (the fleet link is trying to load it again)\n' +
      '\tretrying = failed 1 time, next attempt in 2 s: ENOSPC: no space left on device\n' +
      '}\n',
  );
});
