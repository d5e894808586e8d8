/**
 * Tables of plist text -> issues (severity, code, key path), one row per rule of docs/launchd-semantics.md
 * §1.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalizeText, issueSummary as summary } from './fixtures/normalize-text.ts';
import { jobPlist, xmlPlist } from './fixtures/plist-text.ts';
import type { JobSpec } from './job-spec.ts';
import { normalizeJob, type JobContext } from './normalize-job.ts';

interface Row {
  readonly name: string;
  readonly text: string;
  readonly issues: readonly string[];
  readonly ctx?: JobContext;
  readonly spec?: (spec: JobSpec) => void;
}

const noArgs = '<key>Label</key><string>com.example.job</string>';

function table(title: string, rows: readonly Row[]): void {
  describe(title, () => {
    for (const row of rows) {
      it(row.name, () => {
        const r = normalizeText(row.text, row.ctx);
        assert.deepEqual(summary(r), row.issues);
        const hasError = row.issues.some((i) => i.startsWith('error'));
        assert.equal(r.spec === undefined, hasError, 'spec is present iff there is no error');
        if (row.spec && r.spec) row.spec(r.spec);
      });
    }
  });
}

table('Label and what to execute (§1.1, behaviour 40)', [
  { name: 'minimal job', text: jobPlist(''), issues: [] },
  { name: 'root not a dict', text: xmlPlist('<array/>'), issues: ['error not-a-dictionary '] },
  {
    name: 'missing Label',
    text: jobPlist('', '<key>Program</key><string>/bin/true</string>'),
    issues: ['error missing-label Label'],
  },
  {
    name: 'empty Label',
    text: jobPlist('', '<key>Label</key><string></string><key>Program</key><string>/bin/x</string>'),
    issues: ['error invalid-label Label'],
  },
  {
    name: 'Label with a newline',
    text: jobPlist('', '<key>Label</key><string>a\nb</string><key>Program</key><string>/bin/x</string>'),
    issues: ['error invalid-label Label'],
  },
  {
    name: 'Label with the reserved prefix, any case',
    text: jobPlist(
      '',
      '<key>Label</key><string>COM.Apple.launchd.x</string><key>Program</key><string>/bin/x</string>',
    ),
    issues: ['error reserved-label Label'],
  },
  {
    name: 'Label com.apple.launchctl*',
    text: jobPlist(
      '',
      '<key>Label</key><string>com.apple.launchctl.Aqua</string><key>Program</key><string>/bin/x</string>',
    ),
    issues: ['error reserved-label Label'],
  },
  {
    name: 'Label with "/" (Launchfleet refuses: file and subject names)',
    text: jobPlist('', '<key>Label</key><string>a/b</string><key>Program</key><string>/bin/x</string>'),
    issues: ['error unsafe-label Label'],
  },
  {
    name: 'Label ".."',
    text: jobPlist('', '<key>Label</key><string>..</string><key>Program</key><string>/bin/x</string>'),
    issues: ['error unsafe-label Label'],
  },
  {
    name: 'Label not a string',
    text: jobPlist('', '<key>Label</key><integer>1</integer><key>Program</key><string>/bin/x</string>'),
    issues: ['error wrong-type Label'],
  },
  {
    name: 'neither Program nor ProgramArguments',
    text: jobPlist('', noArgs),
    issues: ['error missing-program Program'],
  },
  {
    name: 'Program only: argv is [Program]',
    text: jobPlist('', `${noArgs}<key>Program</key><string>/usr/bin/env</string>`),
    issues: [],
    spec: (s) => {
      assert.equal(s.program, '/usr/bin/env');
      assert.equal(s.programIsExplicit, true);
      assert.deepEqual(s.programArguments, ['/usr/bin/env']);
    },
  },
  {
    name: 'Program and ProgramArguments together are fine',
    text: jobPlist('<key>Program</key><string>/bin/sh</string>'),
    issues: [],
    spec: (s) => {
      assert.equal(s.program, '/bin/sh');
      assert.deepEqual(s.programArguments, ['/bin/true']);
    },
  },
  {
    name: 'relative ProgramArguments[0] is resolved at spawn time',
    text: jobPlist(
      '',
      `${noArgs}<key>ProgramArguments</key><array><string>sleep</string><string>1</string></array>`,
    ),
    issues: [],
    spec: (s) => {
      assert.equal(s.program, 'sleep');
      assert.equal(s.programIsExplicit, false);
    },
  },
  {
    name: 'relative Program',
    text: jobPlist('<key>Program</key><string>bin/x</string>'),
    issues: ['error program-not-absolute Program'],
  },
  {
    name: 'Program as an array with ProgramArguments: ignored',
    text: jobPlist('<key>Program</key><array><string>/bin/x</string></array>'),
    issues: ['warning wrong-type Program'],
  },
  {
    name: 'Program as an array alone: refused',
    text: jobPlist('', `${noArgs}<key>Program</key><array><string>/bin/x</string></array>`),
    issues: ['error wrong-type Program'],
  },
  {
    name: 'ProgramArguments with a non-string',
    text: jobPlist(
      '',
      `${noArgs}<key>ProgramArguments</key><array><string>/bin/x</string><integer>1</integer></array>`,
    ),
    issues: ['error wrong-type ProgramArguments[1]'],
  },
  {
    name: 'ProgramArguments as a string',
    text: jobPlist('', `${noArgs}<key>ProgramArguments</key><string>/bin/x</string>`),
    issues: ['error wrong-type ProgramArguments'],
  },
  {
    name: 'empty ProgramArguments alone',
    text: jobPlist('', `${noArgs}<key>ProgramArguments</key><array/>`),
    issues: ['error missing-program ProgramArguments'],
  },
  {
    name: 'BundleProgram: not on Linux',
    text: jobPlist('<key>BundleProgram</key><string>Contents/MacOS/x</string>'),
    issues: ['warning not-on-linux BundleProgram'],
  },
  {
    name: 'BundleProgram as an array',
    text: jobPlist('<key>BundleProgram</key><array/>'),
    issues: ['warning not-on-linux BundleProgram', 'warning wrong-type BundleProgram'],
  },
  {
    name: 'BundleProgram alone cannot run here',
    text: jobPlist('', `${noArgs}<key>BundleProgram</key><string>Contents/MacOS/x</string>`),
    issues: ['warning not-on-linux BundleProgram', 'error missing-program Program'],
  },
]);

table('key matching (§1 general rules)', [
  {
    name: 'case-insensitive match, reported in canonical spelling',
    text: jobPlist('<key>runatload</key><true/>'),
    issues: ['warning key-case RunAtLoad'],
    spec: (s) => assert.equal(s.runAtLoad, true),
  },
  {
    name: 'unknown keys are warnings and stay in raw; typos get a suggestion',
    text: jobPlist('<key>EnvironmentalVariables</key><dict/><key>POSIXSpawnType</key><string>App</string>'),
    issues: ['warning unknown-key EnvironmentalVariables', 'warning unknown-key POSIXSpawnType'],
    spec: (s) => {
      assert.ok('POSIXSpawnType' in s.raw);
      assert.ok('EnvironmentalVariables' in s.raw);
    },
  },
  {
    name: 'the same key twice in different case',
    text: jobPlist('<key>RunAtLoad</key><true/><key>RUNATLOAD</key><false/>'),
    issues: ['warning key-case RunAtLoad', 'warning duplicate-key RunAtLoad'],
    spec: (s) => assert.equal(s.runAtLoad, true),
  },
  {
    name: 'file name not <Label>.plist',
    text: jobPlist(''),
    ctx: { fileName: '/Library/LaunchDaemons/other.plist' },
    issues: ['warning file-name-mismatch Label'],
  },
  { name: 'file name matches', text: jobPlist(''), ctx: { fileName: 'com.example.job.plist' }, issues: [] },
]);

table('booleans, strings and arrays of strings', [
  {
    name: 'Debug as a dict',
    text: jobPlist('<key>Debug</key><dict/>'),
    issues: ['warning wrong-type Debug'],
  },
  {
    name: 'RunAtLoad as a string',
    text: jobPlist('<key>RunAtLoad</key><string>YES</string>'),
    issues: ['warning wrong-type RunAtLoad'],
  },
  {
    name: 'UserName as an integer',
    text: jobPlist('<key>UserName</key><integer>0</integer>'),
    issues: ['warning wrong-type UserName'],
  },
  {
    name: 'WatchPaths with a non-string element',
    text: jobPlist('<key>WatchPaths</key><array><string>/a</string><true/></array>'),
    issues: ['warning wrong-type WatchPaths[1]'],
    spec: (s) => assert.deepEqual(s.watchPaths, ['/a']),
  },
  {
    name: 'QueueDirectories as a string',
    text: jobPlist('<key>QueueDirectories</key><string>/q</string>'),
    issues: ['warning wrong-type QueueDirectories'],
  },
  {
    name: 'AssociatedBundleIdentifiers as a string or an array',
    text: jobPlist('<key>AssociatedBundleIdentifiers</key><string>com.example.app</string>'),
    issues: [],
  },
  {
    name: 'UserName is ignored for agents',
    text: jobPlist('<key>UserName</key><string>root</string>'),
    ctx: { domain: 'gui' },
    issues: ['warning ignored-in-domain UserName'],
    spec: (s) => assert.equal(s.userName, undefined),
  },
  {
    name: 'UserName is kept for daemons',
    text: jobPlist('<key>UserName</key><string>daemon</string>'),
    ctx: { domain: 'system' },
    issues: [],
    spec: (s) => assert.equal(s.userName, 'daemon'),
  },
  {
    name: 'InitGroups without UserName',
    text: jobPlist('<key>InitGroups</key><true/>'),
    issues: ['warning meaningless-combination InitGroups'],
  },
]);

table('numbers: Umask, Nice, intervals (§1.2, §1.3, §7 D2)', [
  {
    name: 'Umask decimal',
    text: jobPlist('<key>Umask</key><integer>18</integer>'),
    issues: [],
    spec: (s) => assert.equal(s.umask, 0o22),
  },
  {
    name: 'Umask octal string',
    text: jobPlist('<key>Umask</key><string>027</string>'),
    issues: [],
    spec: (s) => assert.equal(s.umask, 0o27),
  },
  {
    name: 'Umask garbage string',
    text: jobPlist('<key>Umask</key><string>rwx</string>'),
    issues: ['warning out-of-range Umask'],
  },
  {
    name: 'Umask too large',
    text: jobPlist('<key>Umask</key><integer>512</integer>'),
    issues: ['warning out-of-range Umask'],
  },
  {
    name: 'Umask real',
    text: jobPlist('<key>Umask</key><real>1.5</real>'),
    issues: ['warning wrong-type Umask'],
  },
  {
    name: 'Nice in range',
    text: jobPlist('<key>Nice</key><integer>-20</integer>'),
    issues: [],
    spec: (s) => assert.equal(s.nice, -20),
  },
  {
    name: 'Nice out of range is dropped',
    text: jobPlist('<key>Nice</key><integer>21</integer>'),
    issues: ['warning out-of-range Nice'],
    spec: (s) => assert.equal(s.nice, undefined),
  },
  {
    name: 'Nice as a real',
    text: jobPlist('<key>Nice</key><real>1.5</real>'),
    issues: ['warning wrong-type Nice'],
  },
  {
    name: 'Nice as a huge integer',
    text: jobPlist('<key>Nice</key><integer>99999999999999999999</integer>'),
    issues: ['warning out-of-range Nice'],
  },
  {
    name: 'StartInterval 0 ignored',
    text: jobPlist('<key>StartInterval</key><integer>0</integer>'),
    issues: ['warning out-of-range StartInterval'],
  },
  {
    name: 'StartInterval 60',
    text: jobPlist('<key>StartInterval</key><integer>60</integer>'),
    issues: [],
    spec: (s) => assert.equal(s.startInterval, 60),
  },
  {
    name: 'ThrottleInterval negative ignored',
    text: jobPlist('<key>ThrottleInterval</key><integer>-1</integer>'),
    issues: ['warning out-of-range ThrottleInterval'],
    spec: (s) => assert.equal(s.throttleInterval, undefined),
  },
  {
    name: 'ThrottleInterval 0: 842 honours, modern ignores (D2)',
    text: jobPlist('<key>ThrottleInterval</key><integer>0</integer>'),
    issues: ['warning throttle-zero ThrottleInterval'],
    spec: (s) => assert.equal(s.throttleInterval, 0),
  },
  {
    name: 'ExitTimeOut 0 is infinite',
    text: jobPlist('<key>ExitTimeOut</key><integer>0</integer>'),
    issues: ['warning infinite-exit-timeout ExitTimeOut'],
    spec: (s) => assert.equal(s.exitTimeOut, 0),
  },
  {
    name: 'ExitTimeOut negative',
    text: jobPlist('<key>ExitTimeOut</key><integer>-5</integer>'),
    issues: ['warning out-of-range ExitTimeOut'],
  },
  {
    name: 'TimeOut is deprecated',
    text: jobPlist('<key>TimeOut</key><integer>30</integer>'),
    issues: ['warning deprecated-key TimeOut'],
  },
]);

table('process context dicts (§1.2, behaviour 42)', [
  {
    name: 'EnvironmentVariables: non-string values ignored (42)',
    text: jobPlist(
      '<key>EnvironmentVariables</key><dict><key>A</key><string>x</string><key>B</key><integer>1</integer></dict>',
    ),
    issues: ['warning wrong-type EnvironmentVariables.B'],
    spec: (s) => assert.deepEqual([...s.environmentVariables], [['A', 'x']]),
  },
  {
    name: 'EnvironmentVariables: __LAUNCHD_FD is reserved',
    text: jobPlist('<key>EnvironmentVariables</key><dict><key>__LAUNCHD_FD</key><string>3</string></dict>'),
    issues: ['warning reserved-name EnvironmentVariables.__LAUNCHD_FD'],
    spec: (s) => assert.equal(s.environmentVariables.size, 0),
  },
  {
    name: 'EnvironmentVariables as an array',
    text: jobPlist('<key>EnvironmentVariables</key><array/>'),
    issues: ['warning wrong-type EnvironmentVariables'],
  },
  {
    name: 'resource limits: names case-insensitive, unknown names and bad values ignored',
    text: jobPlist(
      '<key>SoftResourceLimits</key><dict><key>numberoffiles</key><integer>512</integer><key>Files</key><integer>1</integer><key>Core</key><string>0</string><key>Stack</key><integer>-1</integer></dict>',
    ),
    issues: [
      'warning key-case SoftResourceLimits.NumberOfFiles',
      'warning unknown-key SoftResourceLimits.Files',
      'warning wrong-type SoftResourceLimits.Core',
      'warning out-of-range SoftResourceLimits.Stack',
    ],
    spec: (s) => assert.deepEqual(s.softResourceLimits, { NumberOfFiles: 512 }),
  },
  {
    name: 'ProcessType: documented and private values',
    text: jobPlist('<key>ProcessType</key><string>App</string>'),
    issues: ['warning unknown-value ProcessType'],
    spec: (s) => assert.equal(s.processType, undefined),
  },
  {
    name: 'ProcessType as a bool',
    text: jobPlist('<key>ProcessType</key><true/>'),
    issues: ['warning wrong-type ProcessType'],
  },
]);

table('load filters (§1.7, §7 D13)', [
  {
    name: 'LimitLoadToSessionType string',
    text: jobPlist('<key>LimitLoadToSessionType</key><string>LoginWindow</string>'),
    ctx: { domain: 'gui' },
    issues: [],
    spec: (s) => assert.deepEqual(s.limitLoadToSessionType, ['LoginWindow']),
  },
  {
    name: 'LimitLoadToSessionType array, all five values, any case',
    text: jobPlist(
      '<key>LimitLoadToSessionType</key><array><string>aqua</string><string>Background</string><string>LoginWindow</string><string>StandardIO</string><string>System</string></array>',
    ),
    issues: [],
    spec: (s) =>
      assert.deepEqual(s.limitLoadToSessionType, [
        'Aqua',
        'Background',
        'LoginWindow',
        'StandardIO',
        'System',
      ]),
  },
  {
    name: 'LimitLoadToSessionType unknown value',
    text: jobPlist(
      '<key>LimitLoadToSessionType</key><array><string>Aqua</string><string>Daemon</string></array>',
    ),
    issues: ['warning out-of-range LimitLoadToSessionType[1]'],
  },
  {
    name: 'LimitLoadToSessionType only applies to agents',
    text: jobPlist('<key>LimitLoadToSessionType</key><string>Aqua</string>'),
    ctx: { domain: 'system' },
    issues: ['warning ignored-in-domain LimitLoadToSessionType'],
  },
  {
    name: 'LimitLoadToHosts is deprecated',
    text: jobPlist(
      '<key>LimitLoadToHosts</key><array><string>a</string></array><key>LimitLoadFromHosts</key><array/>',
    ),
    issues: ['warning deprecated-key LimitLoadToHosts', 'warning deprecated-key LimitLoadFromHosts'],
  },
  {
    name: 'LimitLoadToHardware: values may be strings, integers or bools',
    text: jobPlist(
      '<key>LimitLoadToHardware</key><dict><key>machine</key><array><string>arm64</string><integer>1</integer></array><key>f</key><true/><key>g</key><array><dict/></array></dict>',
    ),
    issues: ['warning wrong-type LimitLoadToHardware.g[0]'],
    spec: (s) =>
      assert.deepEqual(
        [...s.limitLoadToHardware],
        [
          ['machine', ['arm64', '1']],
          ['f', ['true']],
          ['g', []],
        ],
      ),
  },
  {
    name: 'LimitLoadFromHardware as an array',
    text: jobPlist('<key>LimitLoadFromHardware</key><array/>'),
    issues: ['warning wrong-type LimitLoadFromHardware'],
  },
]);

table('Disabled, OnDemand and deprecated keys (§1.1, §1.9)', [
  {
    name: 'Disabled true',
    text: jobPlist('<key>Disabled</key><true/>'),
    issues: [],
    spec: (s) => assert.equal(s.disabled, true),
  },
  {
    name: 'Disabled as a hardware dict',
    text: jobPlist('<key>Disabled</key><dict><key>MachineType</key><string>Power Macintosh</string></dict>'),
    issues: ['warning not-on-linux Disabled'],
    spec: (s) => assert.equal(s.disabled, false),
  },
  {
    name: 'Disabled as a string',
    text: jobPlist('<key>Disabled</key><string>yes</string>'),
    issues: ['warning wrong-type Disabled'],
  },
  {
    name: 'OnDemand=false is KeepAlive=true',
    text: jobPlist('<key>OnDemand</key><false/>'),
    issues: ['warning deprecated-key OnDemand'],
    spec: (s) => assert.equal(s.keepAlive.always, true),
  },
  {
    name: 'OnDemand=true does nothing',
    text: jobPlist('<key>OnDemand</key><true/>'),
    issues: ['warning deprecated-key OnDemand'],
    spec: (s) => assert.equal(s.keepAlive.always, false),
  },
  {
    name: 'KeepAlive wins over OnDemand',
    text: jobPlist('<key>OnDemand</key><false/><key>KeepAlive</key><false/>'),
    issues: ['warning deprecated-key OnDemand', 'warning meaningless-combination OnDemand'],
    spec: (s) => assert.equal(s.keepAlive.always, false),
  },
  {
    name: 'ServiceIPC, HopefullyExitsFirst/Last are deprecated no-ops',
    text: jobPlist(
      '<key>ServiceIPC</key><true/><key>HopefullyExitsFirst</key><true/><key>HopefullyExitsLast</key><false/>',
    ),
    issues: [
      'warning deprecated-key ServiceIPC',
      'warning deprecated-key HopefullyExitsFirst',
      'warning deprecated-key HopefullyExitsLast',
    ],
  },
  {
    name: 'MaterializeDatalessFiles and LegacyTimers have no Linux meaning',
    text: jobPlist('<key>MaterializeDatalessFiles</key><true/><key>LegacyTimers</key><true/>'),
    issues: ['warning not-on-linux MaterializeDatalessFiles', 'warning not-on-linux LegacyTimers'],
  },
]);

describe('labels that only a binary or JSON plist can carry', () => {
  it('a NUL in the label is refused by Launchfleet (launchd would cut the label there)', () => {
    const r = normalizeJob({ Label: 'com.example\u0000evil', Program: '/bin/x' });
    assert.deepEqual(summary(r), ['error unsafe-label Label']);
    assert.equal(r.issues[0]?.launchd, 'accepts');
    assert.match(r.issues[0]?.message ?? '', /file names and NATS subject tokens/);
  });
});
