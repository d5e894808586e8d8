// One start of a job (job-spawn.ts, spawn-request.ts): with the accounts at hand the spawner is
// called in the turn that decided the start, before the status work of that step; without them
// the lookups come first, in the same order as always, and the request is the same either way.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '@launchfleet/shared/testing';
import type { JobSpec } from '@launchfleet/shared/job';
import { jobSpec } from '../testing/job-spec-builder.ts';
import { FakeSpawner } from '../testing/fake-spawner.ts';
import { FakeFileSystem } from '../testing/fake-file-system.ts';
import { FakeUserDb, DEFAULT_GROUPS, DEFAULT_USERS } from '../testing/fake-user-db.ts';
import { flush } from '../testing/settle.ts';
import { RealUserDb } from '../adapters/user-db.ts';
import type { UserDb } from '../ports/user-db.ts';
import { CalendarScheduler } from './calendar-scheduler.ts';
import { fixedOffset } from './core/calendar.ts';
import { step } from './core/job-machine.ts';
import { initialJobState } from './core/job-state.ts';
import { machineConfig } from './core/machine-config.ts';
import { JobRunner, type RunnerDomain } from './job-runner.ts';
import { buildSpawnRequest, spawnRequestNow, type SpawnDomain } from './spawn-request.ts';

function runnerWith(users: UserDb) {
  /** Every status emitted and every observer event, in order (a warm-up must add none). */
  const seen: string[] = [];
  const clock = new FakeClock(Date.UTC(2026, 0, 5, 12, 0, 0), 1_000_000);
  const spawner = new FakeSpawner(clock, clock);
  const domain: RunnerDomain = {
    kind: 'system',
    uid: 0,
    agentUid: 0,
    target: 'system',
    calendar: new CalendarScheduler(clock, clock, fixedOffset(0), { weekdayIgnoresMonth: true }),
    otherJob: () => ({ loaded: false, active: false }),
  };
  /** spawner.spawns.length each time the status is emitted in the 'spawning' state. */
  const spawnsSeenWhileSpawning: number[] = [];
  const runner = (spec: JobSpec) =>
    new JobRunner({
      spec,
      domain,
      ports: { spawner, fs: new FakeFileSystem(), users, clock, scheduler: clock },
      config: machineConfig('842'),
      log: () => undefined,
      onStatus: (r) => {
        seen.push(`status ${r.current.sub.kind}`);
        if (r.current.sub.kind === 'spawning') spawnsSeenWhileSpawning.push(spawner.spawns.length);
      },
      onEvent: (_r, e) => seen.push(`event ${e.type}`),
      onPersist: (st) => seen.push(`persist ${st.state}`),
    });
  return { clock, spawner, runner, spawnsSeenWhileSpawning, seen };
}

describe('job-spawn: when the fork happens', () => {
  it('accounts at hand: the spawner is called before the "spawning" status is emitted', async () => {
    const t = runnerWith(new FakeUserDb());
    const r = t.runner(jobSpec('now', { runAtLoad: true, userName: 'alice', groupName: 'admin' }));
    await r.load(false);
    await flush();
    assert.deepEqual(t.spawnsSeenWhileSpawning, [1], 'forked before the status work of its step');
    assert.equal(r.current.sub.kind, 'running');
    assert.equal(t.spawner.spawns[0]?.req.credentials?.gid, 80);
  });

  it('accounts not at hand: looked up first (user, group), then the spawner; the job still runs', async () => {
    const users = new FakeUserDb(DEFAULT_USERS, DEFAULT_GROUPS, { known: false });
    const t = runnerWith(users);
    const r = t.runner(jobSpec('later', { runAtLoad: true, userName: 'alice', groupName: 'admin' }));
    await r.load(false);
    await flush();
    assert.deepEqual(t.spawnsSeenWhileSpawning, [0], 'the status work ran while the lookups were awaited');
    assert.deepEqual(users.asked, ['u:alice', 'g:admin']);
    assert.equal(r.current.sub.kind, 'running');
    assert.equal(t.spawner.spawns[0]?.req.credentials?.gid, 80);
  });
});

describe('spawn-request: spawnRequestNow is buildSpawnRequest without the wait', () => {
  const system = (agentUid: number): SpawnDomain => ({ kind: 'system', uid: 0, agentUid });
  const gui = (uid: number, agentUid: number): SpawnDomain => ({ kind: 'gui', uid, agentUid });
  const cases: [string, JobSpec, SpawnDomain, string[]][] = [
    ['system, no UserName', jobSpec('a'), system(0), ['i:0']],
    [
      'UserName + GroupName',
      jobSpec('b', { userName: 'alice', groupName: 'admin' }),
      system(0),
      ['u:alice', 'g:admin'],
    ],
    ['GroupName alone', jobSpec('c', { groupName: 'staff' }), system(0), ['g:staff', 'i:0']],
    ['unknown user', jobSpec('d', { userName: 'ghost', groupName: 'admin' }), system(0), ['u:ghost']],
    [
      'unknown group',
      jobSpec('e', { userName: 'alice', groupName: 'ghosts' }),
      system(0),
      ['u:alice', 'g:ghosts'],
    ],
    ['agent not root', jobSpec('f', { userName: 'alice' }), system(501), ['i:501']],
    ['gui domain', jobSpec('g', { userName: 'root' }), gui(502, 0), ['i:502']],
    ['gui domain, no account', jobSpec('h'), gui(777, 0), ['i:777']],
  ];
  for (const [name, spec, domain, lookups] of cases)
    it(name, async () => {
      const config = machineConfig('modern');
      const extras = { passFds: [7], listenFdNames: ['Listeners'] };
      const cold = new FakeUserDb(DEFAULT_USERS, DEFAULT_GROUPS, { known: false });
      assert.equal(spawnRequestNow(spec, domain, cold, config, extras), undefined, 'nothing at hand');
      const later = await buildSpawnRequest(spec, domain, cold, config, extras);
      assert.deepEqual(cold.asked, lookups, 'the lookups, one each, in order');
      const warm = new FakeUserDb();
      assert.deepEqual(spawnRequestNow(spec, domain, warm, config, extras), later);
      assert.deepEqual(warm.asked, [], 'no async lookup');
    });
});

describe('spawn-request: the request, field by field', () => {
  it('every field of the spec, the domain and the socket handoff is in it', () => {
    const spec = jobSpec('all', {
      program: '/usr/bin/env',
      programArguments: ['env', '-i'],
      userName: 'alice',
      groupName: 'admin',
      initGroups: false,
      workingDirectory: '/srv',
      rootDirectory: '/jail',
      umask: 0o027,
      nice: 5,
      softResourceLimits: { NumberOfFiles: 256 },
      hardResourceLimits: { NumberOfFiles: 1024 },
      lowPriorityIO: true,
      standardInPath: '/in',
      standardOutPath: '/out',
      standardErrorPath: '/err',
      waitForDebugger: true,
      environmentVariables: { A: '1', PATH: '/opt/bin' },
    });
    const domain: SpawnDomain = {
      kind: 'system',
      uid: 0,
      agentUid: 0,
      globalEnvironment: { G: 'g', A: '0' },
    };
    const plan = spawnRequestNow(spec, domain, new FakeUserDb(), machineConfig('842'), {
      passFds: [7, 8],
      listenFdNames: ['Listeners', 'Listeners'],
    });
    assert.deepEqual(plan, {
      ok: true,
      warnings: [],
      req: {
        label: 'all',
        program: '/usr/bin/env',
        argv: ['env', '-i'],
        searchPath: false,
        enableGlobbing: false,
        env: {
          PATH: '/opt/bin',
          XPC_SERVICE_NAME: 'all',
          HOME: '/home/alice',
          USER: 'alice',
          LOGNAME: 'alice',
          SHELL: '/bin/zsh',
          TMPDIR: '/tmp',
          G: 'g',
          A: '1',
        },
        workingDirectory: '/srv',
        rootDirectory: '/jail',
        credentials: { uid: 501, gid: 80, userName: 'alice', initGroups: false },
        umask: 0o027,
        nice: 5,
        softLimits: { NumberOfFiles: 256 },
        hardLimits: { NumberOfFiles: 1024 },
        lowPriorityIO: true,
        stdin: { kind: 'path', path: '/in' },
        stdout: { kind: 'path', path: '/out' },
        stderr: { kind: 'path', path: '/err' },
        passFds: [7, 8],
        setListenPid: true,
        listenFdNames: ['Listeners', 'Listeners'],
        startSuspended: true,
      },
    });
  });

  it('without the optional fields: none of them is present, not even as undefined', () => {
    const plan = spawnRequestNow(
      jobSpec('bare'),
      { kind: 'system', uid: 0, agentUid: 501 },
      new FakeUserDb(),
      machineConfig('842'),
    );
    assert.ok(plan?.ok);
    for (const k of ['workingDirectory', 'rootDirectory', 'credentials', 'umask', 'nice', 'listenFdNames'])
      assert.equal(k in plan.req, false, k);
    assert.deepEqual(plan.req.passFds, []);
    assert.equal(plan.req.setListenPid, false);
    assert.deepEqual(plan.req.stdin, { kind: 'null' });
  });
});

describe('job-spawn: the account lookups of a socket job are made at load', () => {
  const root = { name: 'root', uid: 0, gid: 0, home: '/root', shell: '/bin/sh' };
  const cachedDb = (asked: string[]) =>
    new RealUserDb({
      platform: 'linux',
      cacheTtlMs: 30_000,
      native: {
        userByName: () => Promise.resolve(null),
        userById: (uid) => (asked.push(`i:${uid}`), Promise.resolve(uid === 0 ? root : null)),
        groupByName: () => Promise.resolve(null),
      },
    });
  const listeners = [
    {
      name: 'Listeners',
      sockets: [
        { type: 'stream' as const, passive: true, family: 'unspecified' as const, serviceName: '8080' },
      ],
    },
  ];

  it('a job with Sockets: its first start finds the account at hand', async () => {
    const asked: string[] = [];
    const users = cachedDb(asked);
    const t = runnerWith(users);
    await t.runner(jobSpec('sock', { sockets: listeners })).load(false);
    await flush();
    assert.deepEqual(asked, ['i:0']);
    assert.equal(users.knownUserById(0)?.found?.name, 'root');
    assert.equal(t.spawner.spawns.length, 0, 'nothing started');
  });

  it('a job without Sockets: nothing asked before its first start', async () => {
    const asked: string[] = [];
    const users = cachedDb(asked);
    await runnerWith(users).runner(jobSpec('plain')).load(false);
    await flush();
    assert.deepEqual(asked, []);
    assert.equal(users.knownUserById(0), undefined);
  });
});

describe("job-spawn: a socket job's load runs its activation path once, dry, changing nothing", () => {
  const listeners = [
    {
      name: 'Listeners',
      sockets: [
        { type: 'stream' as const, passive: true, family: 'unspecified' as const, serviceName: '8080' },
      ],
    },
  ];

  it('the machine is left as the load step leaves it; no spawn, no status, no event; the spawner only warms', async () => {
    const t = runnerWith(new FakeUserDb());
    const spec = jobSpec('sock', { sockets: listeners, userName: 'alice' });
    const r = t.runner(spec);
    await r.load(false);
    await flush();
    // The state the load event alone gives (the job has no conditions to observe).
    const loaded = step(
      spec,
      initialJobState(),
      { type: 'load', disabled: false, observed: initialJobState().observed },
      t.clock.monotonicMs(),
      machineConfig('842'),
    ).state;
    assert.deepEqual(r.current, loaded, 'the warm-up left the machine as the load step left it');
    assert.equal(r.current.sub.kind, 'waiting');
    assert.equal(t.spawner.spawns.length, 0, 'nothing started');
    assert.deepEqual(t.seen, ['status waiting'], "only the load's own status");
    assert.equal(t.spawner.warmed.length, 1, 'the spawner prepared one request');
    assert.equal(t.spawner.warmed[0]?.label, 'sock');
    assert.deepEqual(t.spawner.warmed[0]?.passFds, [], 'no socket handed out');

    // The first activation after the warm-up is an ordinary one.
    r.send({ type: 'trigger', kind: 'socket' });
    await flush();
    assert.equal(t.spawner.spawns.length, 1);
    assert.equal(r.current.sub.kind, 'running');
    assert.equal(r.current.spawns, 1);
    assert.deepEqual(t.spawner.spawns[0]?.req.credentials, t.spawner.warmed[0]?.credentials);
  });

  it('once per agent (its spawner): a second socket job loads without a warm-up', async () => {
    const t = runnerWith(new FakeUserDb());
    await t.runner(jobSpec('sock1', { sockets: listeners })).load(false);
    await t.runner(jobSpec('sock2', { sockets: listeners })).load(false);
    await flush();
    assert.deepEqual(
      t.spawner.warmed.map((r) => r.label),
      ['sock1'],
    );
  });

  it('a job without Sockets is not warmed', async () => {
    const t = runnerWith(new FakeUserDb());
    await t.runner(jobSpec('plain')).load(false);
    await flush();
    assert.deepEqual(t.spawner.warmed, []);
  });
});
