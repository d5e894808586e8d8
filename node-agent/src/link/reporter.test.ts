/**
 * The reporter is driven by pushes: a job status change, a session's domain coming or going.
 * Its scan runs every `scanMs` (30 s here, the production default) and only catches what nobody
 * pushed. Everything below the scan is faked: the domain manager (its `domains`, `domain` and
 * `onDomainsChanged`), the reconciler, the user database, the connection (a NATS connection that
 * acks every JetStream publish) and the KV bucket. The event policy and the parts are real.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { FakeClock } from '@launchfleet/shared/testing';
import type { NodeStatus } from '@launchfleet/shared/messages';
import type { DomainManager } from '../supervisor/domains/domain-manager.ts';
import type { JobStatus } from '../supervisor/job-status.ts';
import type { UserDb } from '../ports/user-db.ts';
import { jobStatus } from '../testing/job-status.ts';
import { jetStreamConnection } from '../testing/fake-nats.ts';
import { flush } from '../testing/settle.ts';
import { Reporter } from './reporter.ts';

interface FakeDomain {
  readonly target: string;
  readonly kind: 'system' | 'gui' | 'user';
  readonly uid: number;
  readonly jobs: Map<string, JobStatus>;
}

/** The domain manager as the reporter sees it. `open`/`close` tell listeners unless `silently`. */
class FakeDomains {
  readonly list: FakeDomain[] = [{ target: 'system', kind: 'system', uid: 0, jobs: new Map() }];
  readonly #listeners = new Set<(targets: readonly string[]) => void>();

  get manager(): DomainManager {
    const view = (d: FakeDomain) => ({
      target: d.target,
      kind: d.kind,
      uid: d.uid,
      statuses: () => [...d.jobs.values()],
      runner: (label: string) => {
        const s = d.jobs.get(label);
        return s === undefined ? undefined : { status: () => s };
      },
    });
    return {
      domains: () => this.list.map(view),
      domain: (target: string) => {
        const d = this.list.find((x) => x.target === target);
        return d ? { ok: true, value: view(d) } : { ok: false };
      },
      onDomainsChanged: (l: (targets: readonly string[]) => void) => {
        this.#listeners.add(l);
        return () => this.#listeners.delete(l);
      },
    } as unknown as DomainManager;
  }

  system(): FakeDomain {
    return this.list[0]!;
  }

  open(kind: 'gui' | 'user', uid: number, silently = false): void {
    this.list.push({ target: `${kind}/${uid}`, kind, uid, jobs: new Map() });
    if (!silently) this.#tell();
  }

  close(target: string): void {
    this.list.splice(
      this.list.findIndex((d) => d.target === target),
      1,
    );
    this.#tell();
  }

  #tell(): void {
    for (const l of this.#listeners) l(this.list.map((d) => d.target));
  }
}

/** A connection that acks every JetStream publish and records the subjects; a bucket that records puts. */
function fakeLink(): { nc: NatsConnection; kv: KV; published: string[]; statuses: NodeStatus[] } {
  const { nc, tries: published } = jetStreamConnection();
  const statuses: NodeStatus[] = [];
  const kv = {
    put: (key: string, data: Uint8Array) => {
      // The envelope's body (the controller's decoder checks ids and sizes this test does not need).
      if (key.endsWith('.status'))
        statuses.push((JSON.parse(new TextDecoder().decode(data)) as { body: NodeStatus }).body);
      return Promise.resolve(1);
    },
  } as unknown as KV;
  return { nc, kv, published, statuses };
}

function reporter(
  clock: FakeClock,
  domains: FakeDomains,
  o: { onDomainsChanged?: (t: readonly string[]) => void; builds?: { n: number } } = {},
): Reporter {
  const users = {
    userById: (uid: number) =>
      Promise.resolve(
        uid === 501 ? { name: 'ada', uid, gid: 20, home: '/Users/ada', shell: '/bin/zsh' } : undefined,
      ),
  } as unknown as UserDb;
  return new Reporter({
    nodeId: 'n1',
    hostname: 'h',
    agentVersion: 't',
    labels: {},
    domainManager: domains.manager,
    reconciler: {
      managedVersion: () => undefined,
      failures: () => [],
      invalidJobs: () => [],
      retrying: () => [],
      revision: 0,
    },
    clock,
    scheduler: clock,
    log: () => undefined,
    users,
    // Called once per snapshot built: counts them.
    counters: () => {
      if (o.builds) o.builds.n++;
      return {};
    },
    heartbeatMs: 10_000,
    statusMinIntervalMs: 1000,
    statusRefreshMs: 60_000,
    scanMs: 30_000,
    maxQueuedEvents: 100,
    random: () => 0.5,
    ...(o.onDomainsChanged && { onDomainsChanged: o.onDomainsChanged }),
  });
}

/** A reporter on a fake clock with its domains (given, or the system domain alone), started and attached to a fake link. */
function attachedReporter(
  o: {
    domains?: FakeDomains;
    onDomainsChanged?: (t: readonly string[]) => void;
    builds?: { n: number };
  } = {},
): { clock: FakeClock; domains: FakeDomains; r: Reporter; link: ReturnType<typeof fakeLink> } {
  const clock = new FakeClock();
  const domains = o.domains ?? new FakeDomains();
  const r = reporter(clock, domains, o);
  const link = fakeLink();
  r.start();
  r.attach(link.nc, link.kv);
  return { clock, domains, r, link };
}

/** Lets promise callbacks (acks, puts, user look-ups) run. */
const settle = (): Promise<void> => flush(5);

/** Advances in 100 ms steps, letting promises run between. */
async function advance(clock: FakeClock, ms: number): Promise<void> {
  for (let t = 0; t < ms; t += 100) {
    clock.advance(Math.min(100, ms - t));
    await settle();
  }
}

const jobStateEvents = (published: readonly string[]): number =>
  published.filter((s) => s === 'lf.events.n1.job-state').length;

describe('reporter: driven by pushes, the scan a safety net', () => {
  test('a pushed job status is a job-state event and in the snapshot within the settle time, 28 s before the scan', async () => {
    const { clock, domains, r, link } = attachedReporter();
    await advance(clock, 100);
    const s = jobStatus({ label: 'com.acme.web' });
    domains.system().jobs.set(s.label, s);
    r.onJobStatus(s);
    await advance(clock, 2000);
    assert.equal(jobStateEvents(link.published), 1, 'the first sight of the job, after its settle time');
    assert.equal(link.statuses.at(-1)?.jobs['com.acme.web']?.subState, 'running');
    await r.stop();
  });

  test("a session's domain, pushed: the link is told at once and the user's name is in the next snapshot", async () => {
    const told: string[][] = [];
    const { clock, domains, r, link } = attachedReporter({ onDomainsChanged: (t) => told.push([...t]) });
    await advance(clock, 1100);
    domains.open('gui', 501);
    assert.deepEqual(told, [['system', 'gui/501']], 'told in the same turn, not at a scan');
    await advance(clock, 1100);
    const last = link.statuses.at(-1);
    assert.deepEqual(last?.domains, ['system', 'gui/501']);
    assert.deepEqual(last?.users, ['ada']);
    domains.close('gui/501');
    assert.deepEqual(told, [['system', 'gui/501'], ['system']]);
    await advance(clock, 1100);
    assert.deepEqual(link.statuses.at(-1)?.domains, ['system']);
    assert.deepEqual(link.statuses.at(-1)?.users, []);
    // The same set again (a scan, or a second push) is not a change.
    await advance(clock, 30_000);
    assert.equal(told.length, 2);
    await r.stop();
  });

  test('a job whose removal is pushed is forgotten at once: loaded again, it is new again', async () => {
    const { clock, domains, r, link } = attachedReporter();
    // A job that never ran (waiting for its calendar): no activity to keep it after it goes.
    const waiting = jobStatus({
      label: 'com.acme.nightly',
      state: 'waiting',
      subState: 'waiting',
      pid: undefined,
      runs: 0,
    });
    domains.system().jobs.set(waiting.label, waiting);
    r.onJobStatus(waiting);
    await advance(clock, 2000);
    assert.equal(jobStateEvents(link.published), 1);
    domains.system().jobs.delete(waiting.label);
    r.onJobStatus({ ...waiting, subState: 'removed' });
    await advance(clock, 2000);
    domains.system().jobs.set(waiting.label, waiting);
    r.onJobStatus(waiting);
    await advance(clock, 2000);
    // Without the push, the job would be forgotten only by the next scan (30 s): this is its
    // second first sight, 6 s in.
    assert.equal(jobStateEvents(link.published), 2, 'loaded again: a new first sight');
    await r.stop();
  });

  test('a change nobody pushed is found by the scan, at scanMs and not before', async () => {
    const told: string[][] = [];
    const { clock, domains, r, link } = attachedReporter({ onDomainsChanged: (t) => told.push([...t]) });
    await advance(clock, 100);
    const s = jobStatus({ label: 'com.acme.quiet' });
    domains.system().jobs.set(s.label, s);
    domains.open('user', 501, true);
    await advance(clock, 29_000);
    assert.equal(jobStateEvents(link.published), 0, 'not pushed: not seen before the scan');
    assert.deepEqual(told, []);
    await advance(clock, 3000);
    assert.deepEqual(told, [['system', 'user/501']], 'the scan noticed the domain');
    assert.equal(jobStateEvents(link.published), 1, 'the scan observed the job');
    assert.equal(link.statuses.at(-1)?.jobs['com.acme.quiet']?.subState, 'running');
    await r.stop();
  });

  test('between changes no snapshot is built: heartbeats put it only when statusRefreshMs old', async () => {
    const domains = new FakeDomains();
    const builds = { n: 0 };
    for (let i = 0; i < 1000; i++) {
      const s = jobStatus({ label: `com.acme.j${i}` });
      domains.system().jobs.set(s.label, s);
    }
    const { clock, r, link } = attachedReporter({ domains, builds });
    await advance(clock, 100);
    assert.equal(link.statuses.length, 1, 'put on attach');
    const after = builds.n;
    // Two heartbeats (10 s, 20 s spread) and no change: nothing built, nothing put.
    await advance(clock, 29_000);
    assert.equal(builds.n, after, 'no snapshot built between changes');
    // The scan (30 s) builds one to compare: the same, not put.
    await advance(clock, 2000);
    assert.equal(builds.n, after + 1);
    assert.equal(link.statuses.length, 1);
    // The heartbeat after statusRefreshMs puts it again (the entry's time is "last seen").
    await advance(clock, 40_000);
    assert.equal(link.statuses.length, 2, 'refreshed after 60 s');
    await r.stop();
  });
});
