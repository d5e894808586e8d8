/**
 * The reconciler's retry contract with its supervisor faked: a job that fails in a way worth
 * retrying is tried again after its own backoff (no other pass asked for), passes in between
 * leave it alone, a terminal failure is not retried, and a new version starts afresh.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NodeEvent } from '@launchfleet/shared/messages';
import type { JobBundle } from '@launchfleet/shared/signing';
import type { JobSpec } from '@launchfleet/shared/job';
import { FakeClock } from '@launchfleet/shared/testing';
import { fakePlistLoader } from '../testing/fake-plist-loader.ts';
import type { DomainManager } from '../supervisor/domains/domain-manager.ts';
import { fail, LaunchdCode, type LaunchdResult } from '../supervisor/domains/launchd-errors.ts';
import type { DesiredStore } from './desired-store.ts';
import type { DriftDetector } from './drift.ts';
import type { ManagedFiles } from './managed-files.ts';
import { Reconciler } from './reconciler.ts';

interface FakeRunner {
  readonly path: string;
  readonly current: { disabled: boolean; removalPending: boolean; sub: { kind: string } };
}

/** One system domain whose bootstraps answer from a script (then succeed). */
class FakeDomain {
  readonly target = 'system';
  readonly kind = 'system';
  readonly isTearingDown = false;
  readonly jobs = new Map<string, FakeRunner>();
  /** Per label: the codes the next bootstraps fail with, in order. */
  readonly failures = new Map<string, number[]>();
  readonly bootstraps: string[] = [];

  labels(): string[] {
    return [...this.jobs.keys()];
  }
  runner(label: string): FakeRunner | undefined {
    return this.jobs.get(label);
  }
  bootstrapSpec(spec: JobSpec, source: { path?: string }): Promise<LaunchdResult> {
    this.bootstraps.push(spec.label);
    const code = this.failures.get(spec.label)?.shift();
    if (code !== undefined) return Promise.resolve(fail(code, `scripted failure ${code}`));
    this.jobs.set(spec.label, {
      path: source.path ?? '',
      current: { disabled: false, removalPending: false, sub: { kind: 'running' } },
    });
    return Promise.resolve({ ok: true, value: undefined });
  }
  bootout(label: string): Promise<LaunchdResult> {
    this.jobs.delete(label);
    return Promise.resolve({ ok: true, value: undefined });
  }
}

function setup() {
  const clock = new FakeClock();
  const domain = new FakeDomain();
  const events: Omit<NodeEvent, 'source'>[] = [];
  /** Labels whose managed file cannot be written (a full disk). */
  const unwritable = new Set<string>();
  const files = {
    path: (target: string, label: string) => `/state/managed/${target}/${label}.plist`,
    domainDir: (target: string) => `/state/managed/${target}`,
    write: (target: string, label: string) =>
      unwritable.has(label)
        ? Promise.reject(new Error('ENOSPC: no space left on device'))
        : Promise.resolve(`/state/managed/${target}/${label}.plist`),
    remove: () => Promise.resolve(),
    list: () => Promise.resolve([]),
  };
  const store = { path: '/state/desired.json', save: () => Promise.resolve() };
  const drift = { watchDirs: () => undefined, watchRunner: () => undefined, count: () => undefined };
  const manager = {
    domains: () => [domain],
    domain: (t: string) => (t === domain.target ? { ok: true, value: domain } : { ok: false }),
  };
  const reconciler = new Reconciler({
    domainManager: manager as unknown as DomainManager,
    files: files as unknown as ManagedFiles,
    store: store as unknown as DesiredStore,
    drift: drift as unknown as DriftDetector,
    loader: fakePlistLoader,
    log: () => undefined,
    wallMs: () => clock.wallMs(),
    monotonicMs: () => clock.monotonicMs(),
    scheduler: clock,
    emit: (e) => events.push(e),
  });
  let revision = 0;
  const accept = (label: string, version: number): void => {
    const bundle: JobBundle = {
      label,
      domain: 'system',
      plist: JSON.stringify({ label, program: '/bin/true' }),
      version,
      issuedAt: 0,
      expiresAt: Number.MAX_SAFE_INTEGER,
      keyId: 'k1',
      nodeId: 'n1',
    };
    revision++;
    reconciler.accept(bundle, {
      raw: `${label}@${version}`,
      rawDigest: `r${revision}`,
      digest: `d${revision}`,
      revision,
    });
  };
  const count = (label: string) => domain.bootstraps.filter((l) => l === label).length;
  return { clock, domain, events, unwritable, reconciler, accept, count };
}

test('a retryable failure is tried again after its backoff, with no other pass asked for', async () => {
  const { clock, domain, events, reconciler, accept, count } = setup();
  domain.failures.set('com.a', [LaunchdCode.EIO, LaunchdCode.EIO]);
  accept('com.a', 1);
  await reconciler.idle();
  assert.equal(count('com.a'), 1);
  assert.deepEqual(reconciler.retrying(), [
    {
      target: 'system',
      label: 'com.a',
      failures: 1,
      why: `launchd-${LaunchdCode.EIO}`,
      nextAttemptAt: clock.wallMs() + 1000,
    },
  ]);

  // A pass asked for meanwhile (drift, another job) leaves the job alone until its time.
  reconciler.requestPass('something else');
  await reconciler.idle();
  clock.advance(999);
  await reconciler.idle();
  assert.equal(count('com.a'), 1, 'not before 1 s');

  clock.advance(1);
  await reconciler.idle();
  assert.equal(count('com.a'), 2, 'tried again at 1 s by the retry timer');
  clock.advance(1999);
  await reconciler.idle();
  assert.equal(count('com.a'), 2, 'the second wait is 2 s');
  clock.advance(1);
  await reconciler.idle();
  assert.equal(count('com.a'), 3);
  assert.ok(domain.jobs.has('com.a'), 'loaded on the third try');
  assert.deepEqual(reconciler.retrying(), []);
  assert.deepEqual(reconciler.failures(), []);
  assert.equal(clock.pending(), 0, 'no retry timer left');
  assert.equal(events.filter((e) => e.kind === 'load-failed').length, 1, 'the failure reported once');
  assert.equal(events.filter((e) => e.kind === 'job-loaded').length, 1);
});

test('a terminal failure is not tried again until a new version, which is tried at once', async () => {
  const { clock, domain, reconciler, accept, count } = setup();
  domain.failures.set('com.t', [LaunchdCode.INVALID_LABEL]);
  accept('com.t', 1);
  await reconciler.idle();
  assert.deepEqual(reconciler.retrying(), []);
  assert.equal(clock.pending(), 0);
  clock.advance(120_000);
  reconciler.requestPass('level check');
  await reconciler.idle();
  assert.equal(count('com.t'), 1, 'not retried');
  assert.deepEqual(
    reconciler.failures().map((f) => f.reason),
    [`launchd-${LaunchdCode.INVALID_LABEL}`],
  );
  accept('com.t', 2);
  await reconciler.idle();
  assert.equal(count('com.t'), 2, 'the new version is tried at once');
  assert.ok(domain.jobs.has('com.t'));
});

test('an I/O error backs off per job: other jobs load, a new version starts the backoff afresh', async () => {
  const { clock, domain, unwritable, reconciler, accept, count } = setup();
  unwritable.add('com.full');
  accept('com.full', 1);
  await reconciler.idle();
  for (const wait of [1000, 2000, 4000]) {
    clock.advance(wait);
    await reconciler.idle();
  }
  assert.deepEqual(reconciler.retrying(), [
    {
      target: 'system',
      label: 'com.full',
      failures: 4,
      why: 'load: ENOSPC: no space left on device',
      nextAttemptAt: clock.wallMs() + 8000,
    },
  ]);
  assert.deepEqual(
    reconciler.failures().map((f) => f.reason),
    ['internal'],
  );

  accept('com.other', 1);
  await reconciler.idle();
  assert.ok(domain.jobs.has('com.other'), 'another job is not held back by the failing one');
  assert.equal(count('com.other'), 1);

  unwritable.delete('com.full');
  accept('com.full', 2);
  await reconciler.idle();
  assert.ok(domain.jobs.has('com.full'), 'a new version is tried at once, not after 8 s');
  assert.deepEqual(reconciler.retrying(), []);
  assert.equal(clock.pending(), 0);
});
