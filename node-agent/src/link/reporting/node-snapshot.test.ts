import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DomainManager } from '../../supervisor/domains/domain-manager.ts';
import { nodeSnapshot, UserNames, type ReconcilerView } from './node-snapshot.ts';

test('the snapshot lists the jobs the reconciler is retrying, soonest first, with why and when', () => {
  const reconciler: ReconcilerView = {
    managedVersion: () => undefined,
    failures: () => [],
    invalidJobs: () => [],
    retrying: () => [
      { target: 'system', label: 'com.late', failures: 4, why: 'load: ENOSPC', nextAttemptAt: 9_000_500 },
      { target: 'system', label: 'com.soon', failures: 1, why: 'x'.repeat(300), nextAttemptAt: 2_000_001 },
      { target: 'gui/501', label: 'com.now', failures: 2, why: 'launchd-5' },
    ],
    revision: 7,
  };
  const snap = nodeSnapshot({
    nodeId: 'n1',
    agentVersion: 't',
    domainManager: { domains: () => [] } as unknown as DomainManager,
    reconciler,
    userNames: new UserNames(undefined),
    counters: () => ({}),
  });
  assert.deepEqual(snap.retrying, [
    // Being tried now: no next time.
    { domain: 'gui/501', label: 'com.now', failures: 2, why: 'launchd-5' },
    // Rounded up to the second (the snapshot is put again only when it changes); why bounded.
    { domain: 'system', label: 'com.soon', failures: 1, why: 'x'.repeat(128), nextAttemptAt: 2_001_000 },
    { domain: 'system', label: 'com.late', failures: 4, why: 'load: ENOSPC', nextAttemptAt: 9_001_000 },
  ]);
  const none = nodeSnapshot({
    nodeId: 'n1',
    agentVersion: 't',
    domainManager: { domains: () => [] } as unknown as DomainManager,
    reconciler: { ...reconciler, retrying: () => [] },
    userNames: new UserNames(undefined),
    counters: () => ({}),
  });
  assert.equal('retrying' in none, false, 'nothing retrying: the field is left out');
});
