// What a job implies at load (docs/launchd-semantics.md §2.2), with behaviours 5-7, 12 and 13 of §6.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalizeText } from './fixtures/normalize-text.ts';
import { jobPlist } from './fixtures/plist-text.ts';
import { loadImplications, type LoadImplications } from './load-implications.ts';

function implications(body: string): LoadImplications {
  const { spec } = normalizeText(jobPlist(body));
  assert.ok(spec);
  return loadImplications(spec);
}

describe('load implications (§2.2)', () => {
  const rows: Array<[string, string, Partial<LoadImplications>]> = [
    ['nothing: demand only (behaviour 5)', '', { startsAtLoad: false, startPendingAtLoad: false }],
    [
      'RunAtLoad (behaviour 6)',
      '<key>RunAtLoad</key><true/>',
      { startsAtLoad: true, startPendingAtLoad: true, keepAliveAlways: false },
    ],
    [
      'KeepAlive=true implies a launch at load',
      '<key>KeepAlive</key><true/>',
      { startsAtLoad: true, keepAliveAlways: true },
    ],
    [
      'OnDemand=false is KeepAlive=true',
      '<key>OnDemand</key><false/>',
      { startsAtLoad: true, keepAliveAlways: true },
    ],
    [
      'SuccessfulExit=false launches at load (behaviour 7, E6)',
      '<key>KeepAlive</key><dict><key>SuccessfulExit</key><false/></dict>',
      { startsAtLoad: true, startPendingAtLoad: true },
    ],
    [
      'Crashed=true sets start_pending',
      '<key>KeepAlive</key><dict><key>Crashed</key><true/></dict>',
      { startPendingAtLoad: true },
    ],
    [
      'PathState alone does not start at load by itself',
      '<key>KeepAlive</key><dict><key>PathState</key><dict><key>/x</key><true/></dict></dict>',
      { startsAtLoad: false },
    ],
    [
      'an empty KeepAlive dict is false',
      '<key>KeepAlive</key><dict/>',
      { startsAtLoad: false, keepAliveAlways: false },
    ],
    [
      'AfterInitialDemand holds RunAtLoad and SuccessfulExit (behaviours 12, 13)',
      '<key>RunAtLoad</key><true/><key>KeepAlive</key><dict><key>AfterInitialDemand</key><true/><key>SuccessfulExit</key><false/></dict>',
      { startsAtLoad: false, heldUntilDemand: true, startPendingAtLoad: true },
    ],
    [
      'Disabled=true loads nothing',
      '<key>Disabled</key><true/><key>KeepAlive</key><true/>',
      { startsAtLoad: false },
    ],
  ];
  for (const [name, body, expected] of rows) {
    it(name, () => {
      const got = implications(body);
      for (const [key, value] of Object.entries(expected))
        assert.equal(got[key as keyof LoadImplications], value, key);
    });
  }
});
