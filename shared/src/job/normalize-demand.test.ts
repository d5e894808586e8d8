/**
 * KeepAlive, StartCalendarInterval, Sockets and the IPC keys: tables of plist text -> issues and
 * the normalised values the supervisor will act on (docs/launchd-semantics.md §1.4, §1.5, §1.8;
 * behaviours 13, 22-26 and 41 of §6).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { issueSummary, normalizeText } from './fixtures/normalize-text.ts';
import { jobPlist } from './fixtures/plist-text.ts';
import type { JobSpec } from './job-spec.ts';

function check(text: string, issues: readonly string[], spec?: (s: JobSpec) => void): void {
  const r = normalizeText(text, { domain: 'system' });
  assert.deepEqual(issueSummary(r), issues);
  if (spec) {
    assert.ok(r.spec, 'expected a spec');
    spec(r.spec);
  }
}

describe('KeepAlive (§1.4)', () => {
  it('true restarts always; false and absent mean demand only', () => {
    check(jobPlist('<key>KeepAlive</key><true/>'), [], (s) => assert.equal(s.keepAlive.always, true));
    check(jobPlist('<key>KeepAlive</key><false/>'), [], (s) => assert.equal(s.keepAlive.always, false));
    check(jobPlist(''), [], (s) => assert.deepEqual(s.keepAlive.always, false));
  });
  it('an empty dict is false', () => {
    check(jobPlist('<key>KeepAlive</key><dict/>'), [], (s) => {
      assert.equal(s.keepAlive.always, false);
      assert.equal(s.keepAlive.successfulExit, undefined);
      assert.equal(s.keepAlive.afterInitialDemand, false);
    });
  });
  it('reads every condition', () => {
    check(
      jobPlist(`<key>KeepAlive</key><dict>
        <key>SuccessfulExit</key><false/><key>Crashed</key><true/>
        <key>PathState</key><dict><key>/a</key><true/><key>/b</key><false/></dict>
        <key>OtherJobEnabled</key><dict><key>com.x</key><true/></dict>
        <key>OtherJobActive</key><dict><key>com.y</key><false/></dict>
        <key>AfterInitialDemand</key><true/></dict>`),
      [],
      (s) => {
        assert.equal(s.keepAlive.successfulExit, false);
        assert.equal(s.keepAlive.crashed, true);
        assert.deepEqual(
          [...s.keepAlive.pathState],
          [
            ['/a', true],
            ['/b', false],
          ],
        );
        assert.deepEqual([...s.keepAlive.otherJobEnabled], [['com.x', true]]);
        assert.deepEqual([...s.keepAlive.otherJobActive], [['com.y', false]]);
        assert.equal(s.keepAlive.afterInitialDemand, true);
      },
    );
  });
  it('NetworkState is kept but warned about (modern launchd ignores it)', () => {
    check(
      jobPlist('<key>KeepAlive</key><dict><key>NetworkState</key><true/></dict>'),
      ['warning deprecated-key KeepAlive.NetworkState'],
      (s) => assert.equal(s.keepAlive.networkState, true),
    );
  });
  it("unknown sub-keys, like Apple's KeepAlive.KeepAlive typo, are ignored with a warning", () => {
    check(
      jobPlist('<key>KeepAlive</key><dict><key>KeepAlive</key><true/></dict>'),
      ['warning unknown-key KeepAlive.KeepAlive'],
      (s) => assert.equal(s.keepAlive.always, false),
    );
  });
  it('wrong types: the whole key, a condition, a PathState entry', () => {
    check(jobPlist('<key>KeepAlive</key><string>yes</string>'), ['warning wrong-type KeepAlive'], (s) =>
      assert.equal(s.keepAlive.always, false),
    );
    check(jobPlist('<key>KeepAlive</key><dict><key>SuccessfulExit</key><integer>0</integer></dict>'), [
      'warning wrong-type KeepAlive.SuccessfulExit',
    ]);
    check(
      jobPlist(
        '<key>KeepAlive</key><dict><key>PathState</key><dict><key>/a</key><string>yes</string></dict></dict>',
      ),
      ['warning wrong-type KeepAlive.PathState["/a"]'],
    );
    check(jobPlist('<key>KeepAlive</key><dict><key>successfulexit</key><true/></dict>'), [
      'warning key-case KeepAlive.SuccessfulExit',
    ]);
  });
  it('LaunchOnlyOnce with KeepAlive runs once (behaviour 41)', () => {
    check(jobPlist('<key>LaunchOnlyOnce</key><true/><key>KeepAlive</key><true/>'), [
      'warning meaningless-combination LaunchOnlyOnce',
    ]);
  });
  it('AfterInitialDemand holds RunAtLoad until the first demand (behaviour 13)', () => {
    check(
      jobPlist(
        '<key>RunAtLoad</key><true/><key>KeepAlive</key><dict><key>AfterInitialDemand</key><true/></dict>',
      ),
      ['warning meaningless-combination KeepAlive.AfterInitialDemand'],
    );
  });
  it('EnablePressuredExit is not honoured with KeepAlive=true', () => {
    check(jobPlist('<key>EnablePressuredExit</key><true/><key>KeepAlive</key><true/>'), [
      'warning meaningless-combination EnablePressuredExit',
    ]);
  });
});

describe('StartCalendarInterval (§1.5, behaviours 20-26, D19)', () => {
  const cal = (inner: string): string => jobPlist(`<key>StartCalendarInterval</key>${inner}`);
  it('a dict, an array, and the empty dict (every minute)', () => {
    check(
      cal('<dict><key>Hour</key><integer>3</integer><key>Minute</key><integer>15</integer></dict>'),
      [],
      (s) => assert.deepEqual(s.startCalendarInterval, [{ hour: 3, minute: 15 }]),
    );
    check(
      cal(
        '<array><dict><key>Hour</key><integer>9</integer><key>Minute</key><integer>0</integer></dict><dict><key>Hour</key><integer>17</integer><key>Minute</key><integer>30</integer></dict></array>',
      ),
      [],
      (s) =>
        assert.deepEqual(s.startCalendarInterval, [
          { hour: 9, minute: 0 },
          { hour: 17, minute: 30 },
        ]),
    );
    check(cal('<dict/>'), [], (s) => assert.deepEqual(s.startCalendarInterval, [{}]));
  });
  it('Weekday 7 is Sunday (behaviour 22)', () => {
    check(cal('<dict><key>Weekday</key><integer>7</integer></dict>'), [], (s) =>
      assert.deepEqual(s.startCalendarInterval, [{ weekday: 0 }]),
    );
  });
  it('a value above the maximum ignores that whole entry; the job still loads (behaviour 26)', () => {
    for (const [field, value] of [
      ['Minute', 60],
      ['Hour', 24],
      ['Day', 0],
      ['Day', 32],
      ['Weekday', 8],
      ['Month', 13],
    ] as const) {
      const r = normalizeText(
        cal(
          `<array><dict><key>Hour</key><integer>1</integer></dict><dict><key>${field}</key><integer>${value}</integer></dict></array>`,
        ),
      );
      assert.deepEqual(
        issueSummary(r),
        [`warning out-of-range StartCalendarInterval[1].${field}`],
        `${field}=${value}`,
      );
      assert.ok(r.spec);
      assert.deepEqual(r.spec.startCalendarInterval, [{ hour: 1 }]);
      assert.match(r.issues[0]?.message ?? '', /launchd ignores this calendar entry and loads the job/);
      assert.equal(r.issues[0]?.launchd, 'ignores-dict');
    }
  });
  it('the lint message names path, range and value', () => {
    const r = normalizeText(cal('<array><dict/><dict><key>Hour</key><integer>24</integer></dict></array>'));
    assert.equal(r.issues[0]?.keyPath, 'StartCalendarInterval[1].Hour');
    assert.equal(
      r.issues[0]?.message,
      'expected integer 0-23, got 24 (launchd ignores this calendar entry and loads the job)',
    );
    assert.equal(r.issues[0]?.value, '24');
    assert.equal(r.issues[0]?.expected, 'integer 0-23');
  });
  it('a non-integer value ignores the entry too', () => {
    check(
      cal('<dict><key>Hour</key><string>3</string></dict>'),
      ['warning wrong-type StartCalendarInterval.Hour'],
      (s) => assert.deepEqual(s.startCalendarInterval, []),
    );
    check(cal('<dict><key>Minute</key><real>1.5</real></dict>'), [
      'warning wrong-type StartCalendarInterval.Minute',
    ]);
  });
  it('a negative value leaves the field a wildcard (D19)', () => {
    check(
      cal('<dict><key>Hour</key><integer>-1</integer><key>Minute</key><integer>0</integer></dict>'),
      ['warning out-of-range StartCalendarInterval.Hour'],
      (s) => assert.deepEqual(s.startCalendarInterval, [{ minute: 0 }]),
    );
  });
  it('Month 0 is a wildcard (842 quirk)', () => {
    check(
      cal('<dict><key>Month</key><integer>0</integer><key>Day</key><integer>1</integer></dict>'),
      ['warning calendar-wildcard-quirk StartCalendarInterval.Month'],
      (s) => assert.deepEqual(s.startCalendarInterval, [{ day: 1 }]),
    );
  });
  it('wrong container types and unknown keys', () => {
    check(cal('<string>daily</string>'), ['warning wrong-type StartCalendarInterval']);
    check(cal('<array><integer>1</integer></array>'), ['warning wrong-type StartCalendarInterval[0]']);
    check(
      cal('<dict><key>Second</key><integer>1</integer></dict>'),
      ['warning unknown-key StartCalendarInterval.Second'],
      (s) => assert.deepEqual(s.startCalendarInterval, [{}]),
    );
  });
});

describe('Sockets and IPC (§1.8, §4)', () => {
  const sock = (inner: string): string =>
    jobPlist(`<key>Sockets</key><dict><key>Listeners</key>${inner}</dict>`);
  it('defaults: stream, passive, unspecified family; integer service names become strings', () => {
    check(sock('<dict><key>SockServiceName</key><integer>8080</integer></dict>'), [], (s) =>
      assert.deepEqual(s.sockets, [
        {
          name: 'Listeners',
          sockets: [{ type: 'stream', passive: true, family: 'unspecified', serviceName: '8080' }],
        },
      ]),
    );
  });
  it("an array of socket dicts, Unix paths, decimal SockPathMode (with Apple's S_IFSOCK bits)", () => {
    check(
      sock(
        '<array><dict><key>SockPathName</key><string>/var/run/x.sock</string><key>SockPathMode</key><integer>49663</integer></dict><dict><key>SockType</key><string>DGRAM</string><key>SockFamily</key><string>ipv6</string><key>SockProtocol</key><string>UDP</string></dict></array>',
      ),
      [],
      (s) => {
        const [unix, udp] = s.sockets[0]?.sockets ?? [];
        assert.equal(unix?.family, 'Unix');
        assert.equal(unix?.pathMode, 0o777);
        assert.equal(udp?.type, 'dgram');
        assert.equal(udp?.family, 'IPv6');
        assert.equal(udp?.protocol, 'UDP');
      },
    );
  });
  it('Bonjour as bool, string or array; MulticastGroup; SecureSocketWithKey', () => {
    check(
      sock(
        '<dict><key>Bonjour</key><array><string>ssh</string><string>sftp-ssh</string></array><key>SockServiceName</key><string>ssh</string></dict>',
      ),
      [],
      (s) => assert.deepEqual(s.sockets[0]?.sockets[0]?.bonjour, ['ssh', 'sftp-ssh']),
    );
    check(sock('<dict><key>SecureSocketWithKey</key><string>SSH_AUTH_SOCK</string></dict>'), [], (s) =>
      assert.equal(s.sockets[0]?.sockets[0]?.family, 'Unix'),
    );
    check(
      sock(
        '<dict><key>SockType</key><string>dgram</string><key>MulticastGroup</key><string>224.0.0.251</string></dict>',
      ),
      [],
      (s) => assert.equal(s.sockets[0]?.sockets[0]?.multicastGroup, '224.0.0.251'),
    );
    check(
      sock('<dict><key>Bonjour</key><integer>1</integer></dict>'),
      ['warning wrong-type Sockets.Listeners.Bonjour'],
      (s) => assert.deepEqual(s.sockets, []),
    );
  });
  it("unknown SockType/SockFamily/SockProtocol strings fall back to launchctl's defaults", () => {
    check(
      sock('<dict><key>SockType</key><string>SOCK_STREAM</string></dict>'),
      ['warning unknown-value Sockets.Listeners.SockType'],
      (s) => assert.equal(s.sockets[0]?.sockets[0]?.type, 'stream'),
    );
  });
  it('bad types drop the socket; Sockets as an array is ignored', () => {
    check(
      sock('<dict><key>SockPassive</key><string>no</string></dict>'),
      ['warning wrong-type Sockets.Listeners.SockPassive'],
      (s) => assert.deepEqual(s.sockets, []),
    );
    check(
      sock(
        '<dict><key>SockPathMode</key><integer>70000</integer><key>SockPathName</key><string>/x</string></dict>',
      ),
      ['warning out-of-range Sockets.Listeners.SockPathMode'],
    );
    check(sock('<string>x</string>'), ['warning wrong-type Sockets.Listeners']);
    check(jobPlist('<key>Sockets</key><array/>'), ['warning wrong-type Sockets']);
    check(
      sock(
        '<dict><key>SockFamily</key><string>IPv4</string><key>SockPathName</key><string>/x</string></dict>',
      ),
      ['warning meaningless-combination Sockets.Listeners.SockFamily'],
    );
  });
  it('inetdCompatibility forces AbandonProcessGroup; Wait defaults to false', () => {
    check(
      sock('<dict/>').replace('</dict>\n</plist>', '<key>inetdCompatibility</key><dict/></dict>\n</plist>'),
      [],
      (s) => {
        assert.deepEqual(s.inetdCompatibility, { wait: false });
        assert.equal(s.abandonProcessGroup, true);
      },
    );
    check(
      jobPlist('<key>inetdCompatibility</key><dict><key>Wait</key><true/></dict>'),
      ['warning meaningless-combination inetdCompatibility'],
      (s) => assert.deepEqual(s.inetdCompatibility, { wait: true }),
    );
    check(jobPlist('<key>inetdCompatibility</key><true/>'), [
      'warning wrong-type inetdCompatibility',
      'warning meaningless-combination inetdCompatibility',
    ]);
  });
  it('MachServices and LaunchEvents are accepted and reported', () => {
    check(
      jobPlist(
        '<key>MachServices</key><dict><key>com.x</key><true/><key>com.y</key><dict/><key>com.z</key><false/></dict><key>LaunchEvents</key><dict><key>com.apple.iokit.matching</key><dict><key>e</key><dict/></dict></dict>',
      ),
      [],
      (s) => {
        assert.deepEqual(s.machServices, ['com.x', 'com.y']);
        assert.deepEqual(s.launchEventStreams, ['com.apple.iokit.matching']);
      },
    );
    check(jobPlist('<key>MachServices</key><dict><key>com.x</key><string>y</string></dict>'), [
      'warning wrong-type MachServices["com.x"]',
    ]);
    check(jobPlist('<key>LaunchEvents</key><dict><key>s</key><array/></dict>'), [
      'warning wrong-type LaunchEvents.s',
    ]);
  });
});
