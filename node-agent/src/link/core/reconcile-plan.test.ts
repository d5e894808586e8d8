import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  type DesiredJob,
  type ObservedJob,
  type ObservedState,
  expandDomain,
  planReconcile,
} from './reconcile-plan.ts';

const domains = [
  { target: 'system', kind: 'system' as const },
  { target: 'gui/501', kind: 'gui' as const },
  { target: 'gui/502', kind: 'gui' as const },
  { target: 'user/501', kind: 'user' as const },
];
const want = (over: Partial<DesiredJob> = {}): DesiredJob => ({
  label: 'com.acme.backup',
  domain: 'system',
  version: 2,
  plistDigest: 'd2',
  loadable: true,
  ...over,
});
const job = (over: Partial<ObservedJob> = {}): ObservedJob => ({
  target: 'system',
  label: 'com.acme.backup',
  ours: true,
  managedPath: true,
  disabled: false,
  stopping: false,
  ...over,
});
const state = (over: Partial<ObservedState> = {}): ObservedState => ({
  domains,
  jobs: [],
  files: [],
  records: [],
  failures: [],
  ...over,
});
/** The observed state after a successful load of `d` in `target`. */
const converged = (d: DesiredJob, target = 'system'): Partial<ObservedState> => ({
  jobs: [job({ target, label: d.label })],
  files: [{ target, label: d.label, digest: d.plistDigest }],
  records: [{ target, label: d.label, version: d.version, plistDigest: d.plistDigest }],
});

test('domain patterns expand to the live domains they name', () => {
  assert.deepEqual(expandDomain('system', domains), ['system']);
  assert.deepEqual(expandDomain('gui/*', domains), ['gui/501', 'gui/502']);
  assert.deepEqual(expandDomain('user/*', domains), ['user/501']);
  assert.deepEqual(expandDomain('gui/502', domains), ['gui/502']);
  assert.deepEqual(expandDomain('gui/777', domains), [], 'no session, nothing to do yet');
});

const cases: { name: string; desired: DesiredJob[]; observed: ObservedState; expect: unknown[] }[] = [
  {
    name: 'new desired job: load',
    desired: [want()],
    observed: state(),
    expect: [{ type: 'load', target: 'system', label: 'com.acme.backup', version: 2 }],
  },
  {
    name: 'converged: nothing (idempotent)',
    desired: [want()],
    observed: state(converged(want())),
    expect: [],
  },
  {
    name: 'new version: replace',
    desired: [want({ version: 3, plistDigest: 'd3' })],
    observed: state(converged(want())),
    expect: [{ type: 'replace', target: 'system', label: 'com.acme.backup', version: 3, fromVersion: 2 }],
  },
  {
    name: 'new version, same plist (re-signed, e.g. a job-signing key rotation): adopt, no restart',
    desired: [want({ version: 3 })],
    observed: state(converged(want())),
    expect: [{ type: 'adopt', target: 'system', label: 'com.acme.backup', version: 3, fromVersion: 2 }],
  },
  {
    name: 'adopted: converged on the next pass',
    desired: [want({ version: 3 })],
    observed: state(converged(want({ version: 3 }))),
    expect: [],
  },
  {
    name: 'new version, same plist, managed file edited meanwhile: adopt and restore the file',
    desired: [want({ version: 3 })],
    observed: state({
      ...converged(want()),
      files: [{ target: 'system', label: 'com.acme.backup', digest: 'edited' }],
    }),
    expect: [
      { type: 'adopt', target: 'system', label: 'com.acme.backup', version: 3, fromVersion: 2 },
      {
        type: 'rewrite-file',
        target: 'system',
        label: 'com.acme.backup',
        version: 3,
        drift: 'plist-changed',
      },
    ],
  },
  {
    name: 'the managed file already holds the new plist, the running job the old one: replace',
    desired: [want({ version: 3, plistDigest: 'd3' })],
    observed: state({
      ...converged(want()),
      files: [{ target: 'system', label: 'com.acme.backup', digest: 'd3' }],
    }),
    expect: [{ type: 'replace', target: 'system', label: 'com.acme.backup', version: 3, fromVersion: 2 }],
  },
  {
    name: 'same plist, but the job was re-bootstrapped by hand (not ours): replace',
    desired: [want({ version: 3 })],
    observed: state({ ...converged(want()), jobs: [job({ ours: false })] }),
    expect: [
      { type: 'replace', target: 'system', label: 'com.acme.backup', version: 3, fromVersion: undefined },
    ],
  },
  {
    name: 'desired removed: unload (and the file goes with it)',
    desired: [],
    observed: state(converged(want())),
    expect: [{ type: 'unload', target: 'system', label: 'com.acme.backup' }],
  },
  {
    name: 'managed file edited on disk: rewrite it, leave the job running',
    desired: [want()],
    observed: state({
      ...converged(want()),
      files: [{ target: 'system', label: 'com.acme.backup', digest: 'x' }],
    }),
    expect: [
      {
        type: 'rewrite-file',
        target: 'system',
        label: 'com.acme.backup',
        version: 2,
        drift: 'plist-changed',
      },
    ],
  },
  {
    name: 'managed file deleted: rewrite it',
    desired: [want()],
    observed: state({ ...converged(want()), files: [] }),
    expect: [
      {
        type: 'rewrite-file',
        target: 'system',
        label: 'com.acme.backup',
        version: 2,
        drift: 'plist-changed',
      },
    ],
  },
  {
    name: 'booted out by hand: load again, as drift',
    desired: [want()],
    observed: state({ ...converged(want()), jobs: [] }),
    expect: [{ type: 'load', target: 'system', label: 'com.acme.backup', version: 2, drift: 'job-unloaded' }],
  },
  {
    name: 'disabled by hand: enable, as drift',
    desired: [want()],
    observed: state({ ...converged(want()), jobs: [job({ disabled: true })] }),
    expect: [{ type: 'enable', target: 'system', label: 'com.acme.backup', drift: 'job-disabled' }],
  },
  {
    name: 'a local job holds the label: conflict, never touched',
    desired: [want()],
    observed: state({ jobs: [job({ ours: false, managedPath: false })] }),
    expect: [{ type: 'conflict', target: 'system', label: 'com.acme.backup', version: 2 }],
  },
  {
    name: 'a local job with our label is not unloaded when nothing is desired',
    desired: [],
    observed: state({ jobs: [job({ ours: false, managedPath: false })] }),
    expect: [],
  },
  {
    name: 'our managed file re-bootstrapped by hand: replace with the verified spec',
    desired: [want()],
    observed: state({ ...converged(want()), jobs: [job({ ours: false })] }),
    expect: [
      { type: 'replace', target: 'system', label: 'com.acme.backup', version: 2, fromVersion: undefined },
    ],
  },
  {
    name: 'invalid new version: the old one keeps running, nothing is unloaded',
    desired: [want({ version: 3, plistDigest: 'd3', loadable: false })],
    observed: state(converged(want())),
    expect: [],
  },
  {
    name: 'terminal failure for this version: not retried',
    desired: [want()],
    observed: state({
      failures: [{ target: 'system', label: 'com.acme.backup', version: 2, retryable: false }],
    }),
    expect: [],
  },
  {
    name: 'retryable failure: retried',
    desired: [want()],
    observed: state({
      failures: [{ target: 'system', label: 'com.acme.backup', version: 2, retryable: true }],
    }),
    expect: [{ type: 'load', target: 'system', label: 'com.acme.backup', version: 2 }],
  },
  {
    name: 'a bootout in flight: wait for it',
    desired: [want({ version: 3 })],
    observed: state({ ...converged(want()), jobs: [job({ stopping: true })] }),
    expect: [],
  },
  {
    name: 'gui/* loads into every gui domain, and into new ones as they appear',
    desired: [want({ domain: 'gui/*' })],
    observed: state(converged(want({ domain: 'gui/*' }), 'gui/501')),
    expect: [{ type: 'load', target: 'gui/502', label: 'com.acme.backup', version: 2 }],
  },
  {
    name: 'session ended: the record is forgotten and the stale file removed',
    desired: [want({ domain: 'gui/*' })],
    observed: state({
      domains: domains.filter((d) => d.target !== 'gui/502'),
      ...converged(want({ domain: 'gui/*' }), 'gui/501'),
      records: [
        { target: 'gui/501', label: 'com.acme.backup', version: 2, plistDigest: 'd2' },
        { target: 'gui/502', label: 'com.acme.backup', version: 2, plistDigest: 'd2' },
      ],
      files: [
        { target: 'gui/501', label: 'com.acme.backup', digest: 'd2' },
        { target: 'gui/502', label: 'com.acme.backup', digest: 'd2' },
      ],
    }),
    expect: [
      { type: 'forget', target: 'gui/502', label: 'com.acme.backup' },
      { type: 'remove-file', target: 'gui/502', label: 'com.acme.backup' },
    ],
  },
  {
    name: 'domain moved from system to gui/501: unload one, load the other',
    desired: [want({ domain: 'gui/501', version: 3, plistDigest: 'd3' })],
    observed: state(converged(want())),
    expect: [
      { type: 'load', target: 'gui/501', label: 'com.acme.backup', version: 3 },
      { type: 'unload', target: 'system', label: 'com.acme.backup' },
    ],
  },
];

for (const c of cases)
  test(`plan: ${c.name}`, () => {
    assert.deepEqual(planReconcile(c.desired, c.observed), c.expect);
  });
