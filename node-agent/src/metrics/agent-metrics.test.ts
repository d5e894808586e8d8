// The agent's metrics over a real DomainManager with fake ports and a FakeClock: what a scrape
// shows while jobs crash-loop, throttle, exit in every way, and leave.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EXIT_REASON_VALUES, JOB_STATE_VALUES } from '@launchfleet/shared/metrics';
import { FakeClock } from '@launchfleet/shared/testing';
import type { Scheduler } from '@launchfleet/shared/clock';
import type { ProcessSpawner } from '../ports/process-spawner.ts';
import { FakeSpawner } from '../testing/fake-spawner.ts';
import { FakeFileSystem } from '../testing/fake-file-system.ts';
import { FakeUserDb } from '../testing/fake-user-db.ts';
import { fakePlistLoader } from '../testing/fake-plist-loader.ts';
import { jobSpec, type JobSpecInput } from '../testing/job-spec-builder.ts';
import { advance, flush } from '../testing/settle.ts';
import { fixedOffset } from '../supervisor/core/calendar.ts';
import { machineConfig } from '../supervisor/core/machine-config.ts';
import { DomainManager } from '../supervisor/domains/domain-manager.ts';
import type { Domain } from '../supervisor/domains/domain.ts';
import type { SocketActivationHook } from '../supervisor/sockets/socket-activation-hook.ts';
import { createAgentMetrics, type AgentMetrics, type LinkMetricsSource } from './agent-metrics.ts';
import { parsePromText, sampleValue, samplesOf, type PromText } from './prom-text.ts';

/** Every exit reason's count of a job that never exited (written out: a reason added or lost fails). */
const noExits = {
  success: 0,
  'exit-code': 0,
  signal: 0,
  crash: 0,
  stopped: 0,
  'spawn-failed': 0,
  unknown: 0,
};

interface Setup {
  readonly clock: FakeClock;
  readonly spawner: FakeSpawner;
  readonly m: DomainManager;
  readonly sys: Domain;
  readonly metrics: AgentMetrics;
  scrape(): Promise<PromText>;
  /** Fires the socket hook of a job as a readable listener would. */
  readonly readable: Map<string, () => void>;
}

async function setup(
  opts: {
    spawner?: (fake: FakeSpawner, clock: FakeClock) => ProcessSpawner;
    scheduler?: (clock: FakeClock) => Scheduler;
    link?: LinkMetricsSource;
  } = {},
): Promise<Setup> {
  const clock = new FakeClock();
  const spawner = new FakeSpawner(clock, clock);
  const readable = new Map<string, () => void>();
  const sockets: SocketActivationHook = {
    arm: (spec, onReadable) => {
      readable.set(spec.label, onReadable);
      return { dispose: () => readable.delete(spec.label) };
    },
    fds: () => ({ passFds: [], listenFdNames: [] }),
  };
  const m = new DomainManager({
    ports: {
      spawner: opts.spawner?.(spawner, clock) ?? spawner,
      fs: new FakeFileSystem(),
      users: new FakeUserDb(),
      clock,
      scheduler: opts.scheduler?.(clock) ?? clock,
    },
    config: machineConfig('842'),
    stateDir: '/var/lib/launchfleet',
    daemonDirectories: [],
    agentDirectories: [],
    loadHomeAgents: false,
    agentUid: 0,
    loader: fakePlistLoader,
    log: () => undefined,
    timeZone: fixedOffset(0),
    sockets,
  });
  await m.start();
  const d = m.domain('system');
  assert.ok(d.ok);
  const metrics = createAgentMetrics({ domainManager: m, ...(opts.link ? { link: opts.link } : {}) });
  const scrape = async (): Promise<PromText> => {
    const t = parsePromText(await metrics.registry.metrics());
    assert.deepEqual(t.problems, []);
    return t;
  };
  return { clock, spawner, m, sys: d.value, metrics, scrape, readable };
}

async function load(t: Setup, label: string, input: JobSpecInput): Promise<void> {
  const r = await t.sys.bootstrapSpec(jobSpec(label, input));
  assert.ok(r.ok, JSON.stringify(r));
  await flush();
}

const job = (label: string) => ({ domain: 'system', label });

function exitsOf(p: PromText, label: string): Record<string, number | undefined> {
  return Object.fromEntries(
    EXIT_REASON_VALUES.map((reason) => [
      reason,
      sampleValue(p, 'launchfleet_job_exits_total', { ...job(label), reason }),
    ]),
  );
}

/** The one state whose gauge is 1, after checking the gauge is one-hot over the fixed set. */
function stateOf(p: PromText, label: string): string {
  const rows = samplesOf(p, 'launchfleet_job_state', job(label));
  assert.deepEqual(rows.map((r) => r.labels.state).sort(), [...JOB_STATE_VALUES].sort());
  const on = rows.filter((r) => r.value === 1);
  assert.equal(on.length, 1, `one-hot: ${JSON.stringify(rows)}`);
  assert.ok(rows.every((r) => r.value === 0 || r.value === 1));
  return on[0]?.labels.state ?? '';
}

describe('agent metrics: a crash-looping KeepAlive job', () => {
  it('shows throttled while spawn-scheduled, counts each exit once, and ends crash-looping', async () => {
    const t = await setup();
    t.spawner.script('com.acme.crasher', { runForMs: 200, exitCode: 3 });
    await load(t, 'com.acme.crasher', { keepAlive: true, throttleInterval: 2 });
    let p = await t.scrape();
    assert.equal(stateOf(p, 'com.acme.crasher'), 'active');
    assert.equal(sampleValue(p, 'launchfleet_job_throttled', job('com.acme.crasher')), 0);
    assert.equal(sampleValue(p, 'launchfleet_job_runs_total', job('com.acme.crasher')), 0);
    assert.deepEqual(exitsOf(p, 'com.acme.crasher'), noExits);
    assert.equal(sampleValue(p, 'launchfleet_job_last_exit_status', job('com.acme.crasher')), undefined);

    // First exit: held back by the throttle (spawned at 0, exited at 0.2 s, respawn at 2 s).
    await advance(t.clock, 300);
    p = await t.scrape();
    assert.equal(stateOf(p, 'com.acme.crasher'), 'activating');
    assert.equal(sampleValue(p, 'launchfleet_job_throttled', job('com.acme.crasher')), 1);
    assert.equal(sampleValue(p, 'launchfleet_job_last_exit_status', job('com.acme.crasher')), 3);
    assert.equal(sampleValue(p, 'launchfleet_job_successive_crashes', job('com.acme.crasher')), 1);
    assert.equal(sampleValue(p, 'launchfleet_job_crash_looping', job('com.acme.crasher')), 0);

    // Scraping often between exits never changes the counters; each exit adds exactly one.
    for (let i = 0; i < 12; i++) {
      await advance(t.clock, 500, 50);
      p = await t.scrape();
      const exited = t.spawner.exits.filter((e) => e.label === 'com.acme.crasher').length;
      assert.equal(
        sampleValue(p, 'launchfleet_job_exits_total', { ...job('com.acme.crasher'), reason: 'exit-code' }),
        exited,
      );
      assert.equal(sampleValue(p, 'launchfleet_job_runs_total', job('com.acme.crasher')), exited);
    }
    // Spawns every 2 s (0, 2, 4, ...), each failing after 0.2 s: the 5th short failing run
    // (at 8.2 s) marks the job crash-looping.
    await advance(t.clock, 4000, 50);
    p = await t.scrape();
    const exited = t.spawner.exits.filter((e) => e.label === 'com.acme.crasher').length;
    assert.ok(exited >= 5, `${exited} exits`);
    assert.equal(sampleValue(p, 'launchfleet_job_crash_looping', job('com.acme.crasher')), 1);
    assert.equal(sampleValue(p, 'launchfleet_job_successive_crashes', job('com.acme.crasher')), exited);
    assert.deepEqual(exitsOf(p, 'com.acme.crasher'), { ...noExits, 'exit-code': exited });
    const snap = t.metrics.snapshot().jobs.find((j) => j.label === 'com.acme.crasher');
    assert.equal(snap?.crashLooping, true);
    assert.equal(snap?.runs, exited);
    assert.deepEqual(snap?.exits, { 'exit-code': exited });
    await t.m.stop();
  });
});

describe('agent metrics: exits by reason', () => {
  it('classifies success, exit-code, crash, signal and spawn-failed, once each', async () => {
    const t = await setup();
    t.spawner.script('ok', { runForMs: 100, exitCode: 0 });
    t.spawner.script('bad', { runForMs: 100, exitCode: 7 });
    t.spawner.script('segv', { runForMs: 100, signal: 'SIGSEGV' });
    t.spawner.script('hup', { runForMs: 100, signal: 'SIGHUP' });
    t.spawner.script('noexec', { startError: { stage: 'exec', errno: 'ENOENT', exitStatus: 2 } });
    for (const l of ['ok', 'bad', 'segv', 'hup', 'noexec']) await load(t, l, { runAtLoad: true });
    await advance(t.clock, 1000);
    const p = await t.scrape();
    assert.deepEqual(exitsOf(p, 'ok'), { ...noExits, success: 1 });
    assert.deepEqual(exitsOf(p, 'bad'), { ...noExits, 'exit-code': 1 });
    assert.deepEqual(exitsOf(p, 'segv'), { ...noExits, crash: 1 });
    assert.deepEqual(exitsOf(p, 'hup'), { ...noExits, signal: 1 });
    assert.deepEqual(exitsOf(p, 'noexec'), { ...noExits, 'spawn-failed': 1 });
    assert.equal(sampleValue(p, 'launchfleet_job_last_exit_status', job('segv')), -11);
    assert.equal(sampleValue(p, 'launchfleet_job_last_exit_status', job('hup')), -1);
    assert.equal(sampleValue(p, 'launchfleet_job_last_exit_status', job('noexec')), 2);
    assert.equal(stateOf(p, 'ok'), 'inactive');
    // A run that ended badly leaves the job failed (its sub-state is `exited`), as systemd says.
    assert.equal(stateOf(p, 'bad'), 'failed');
    assert.equal(stateOf(p, 'noexec'), 'failed');
    for (const l of ['ok', 'bad', 'segv', 'hup', 'noexec'])
      assert.equal(sampleValue(p, 'launchfleet_job_runs_total', job(l)), 1);
    // A second scrape changes nothing.
    assert.deepEqual(exitsOf(await t.scrape(), 'segv'), { ...noExits, crash: 1 });
    // The snapshot carries the same numbers, zeros and falses left out.
    const snap = t.metrics.snapshot().jobs;
    assert.deepEqual(
      snap.find((j) => j.label === 'ok'),
      { domain: 'system', label: 'ok', state: 'inactive', runs: 1, exits: { success: 1 }, lastExitStatus: 0 },
    );
    assert.deepEqual(
      snap.find((j) => j.label === 'segv'),
      {
        domain: 'system',
        label: 'segv',
        state: 'failed',
        runs: 1,
        exits: { crash: 1 },
        successiveCrashes: 1,
        lastExitStatus: -11,
      },
    );
    await t.m.stop();
  });

  it('a KeepAlive job that crashes after a long run and is respawned at once counts a crash', async () => {
    const t = await setup();
    // Runs 3 s, longer than its 1 s ThrottleInterval: the respawn happens in the same step as the reap.
    t.spawner.script('longsegv', { runForMs: 3000, signal: 'SIGSEGV' });
    await load(t, 'longsegv', { keepAlive: true, throttleInterval: 1 });
    await advance(t.clock, 3100);
    const p = await t.scrape();
    assert.equal(sampleValue(p, 'launchfleet_job_exits_total', { ...job('longsegv'), reason: 'crash' }), 1);
    assert.equal(sampleValue(p, 'launchfleet_job_exits_total', { ...job('longsegv'), reason: 'signal' }), 0);
    await t.m.stop();
  });

  it('a stop by us is a `stopped` exit; a disabled idle job is inactive and disabled', async () => {
    const t = await setup();
    await load(t, 'svc', { runAtLoad: true });
    await load(t, 'idle', {});
    assert.equal(stateOf(await t.scrape(), 'svc'), 'active');
    assert.ok(t.sys.stop('svc').ok);
    assert.equal(stateOf(await t.scrape(), 'svc'), 'deactivating');
    await advance(t.clock, 100);
    const p = await t.scrape();
    assert.equal(sampleValue(p, 'launchfleet_job_exits_total', { ...job('svc'), reason: 'stopped' }), 1);
    assert.equal(sampleValue(p, 'launchfleet_job_exits_total', { ...job('svc'), reason: 'signal' }), 0);
    assert.equal(sampleValue(p, 'launchfleet_job_last_exit_status', job('svc')), -15);
    assert.equal(stateOf(p, 'svc'), 'inactive', 'a job we stopped has not failed');
    assert.equal(stateOf(p, 'idle'), 'inactive');
    assert.equal(sampleValue(p, 'launchfleet_job_disabled', job('idle')), 0);
    assert.ok((await t.sys.disable('idle')).ok);
    const d = await t.scrape();
    assert.equal(stateOf(d, 'idle'), 'inactive');
    assert.equal(sampleValue(d, 'launchfleet_job_disabled', job('idle')), 1);
    await t.m.stop();
  });
});

describe('agent metrics: series lifecycle', () => {
  it('removes every series of a job booted out, counters included; a reload starts from zero', async () => {
    const t = await setup();
    t.spawner.script('gone', { runForMs: 100, exitCode: 1 });
    await load(t, 'gone', { runAtLoad: true });
    await load(t, 'stays', {});
    await advance(t.clock, 200);
    let p = await t.scrape();
    assert.equal(sampleValue(p, 'launchfleet_job_runs_total', job('gone')), 1);
    const before = p.samples.filter((s) => s.labels.label === 'gone').length;
    assert.ok(before >= 15, `${before} series`);
    assert.ok((await t.sys.bootout('gone', { wait: true })).ok);
    p = await t.scrape();
    assert.deepEqual(
      p.samples.filter((s) => s.labels.label === 'gone'),
      [],
    );
    assert.ok(p.samples.some((s) => s.labels.label === 'stays'));
    assert.equal(sampleValue(p, 'launchfleet_agent_jobs_loaded', { domain_kind: 'system' }), 1);
    assert.equal(
      t.metrics.snapshot().jobs.some((j) => j.label === 'gone'),
      false,
    );
    // Reloading the label starts a new counter (a reset, as after an agent restart).
    t.spawner.script('gone', {});
    await load(t, 'gone', {});
    p = await t.scrape();
    assert.equal(sampleValue(p, 'launchfleet_job_runs_total', job('gone')), 0);
    await t.m.stop();
    p = await t.scrape();
    assert.equal(samplesOf(p, 'launchfleet_job_state').length, 0);
    assert.equal(samplesOf(p, 'launchfleet_job_exits_total').length, 0);
  });

  it('user domains: a closed session takes its jobs series with it', async () => {
    const t = await setup();
    const s = await t.m.openSession(501, 'gui');
    assert.ok(s.ok);
    assert.ok(
      (
        await s.value.domain.bootstrapSpec(
          jobSpec('agent', { runAtLoad: true, limitLoadToSessionType: ['Aqua'] }),
        )
      ).ok,
    );
    await flush();
    let p = await t.scrape();
    assert.equal(
      sampleValue(p, 'launchfleet_job_state', { domain: 'gui/501', label: 'agent', state: 'active' }),
      1,
    );
    assert.equal(sampleValue(p, 'launchfleet_agent_jobs_loaded', { domain_kind: 'gui' }), 1);
    assert.ok((await t.m.closeSession(501, 'gui')).ok);
    p = await t.scrape();
    assert.equal(samplesOf(p, 'launchfleet_job_state', { domain: 'gui/501' }).length, 0);
    assert.equal(samplesOf(p, 'launchfleet_job_runs_total', { domain: 'gui/501' }).length, 0);
    assert.equal(sampleValue(p, 'launchfleet_agent_jobs_loaded', { domain_kind: 'gui' }), 0);
    await t.m.stop();
  });
});

describe('agent metrics: spawn latency, timer lag, socket activations', () => {
  it('measures decision -> exec on the clock the spawner takes', async () => {
    const t = await setup({
      // A spawner that takes 30 ms to report the exec.
      spawner: (fake, clock) => ({
        spawn: (req, onExit) => new Promise((r) => clock.after(30, () => r(fake.spawn(req, onExit)))),
        signal: (pid, sig) => fake.signal(pid, sig),
        signalGroup: (pgid, sig) => fake.signalGroup(pgid, sig),
      }),
    });
    await load(t, 'slow', { runAtLoad: true });
    await advance(t.clock, 100);
    const p = await t.scrape();
    assert.equal(sampleValue(p, 'launchfleet_job_spawn_duration_seconds', job('slow')), 0.03);
    assert.equal(sampleValue(p, 'launchfleet_agent_spawn_seconds_count'), 1);
    assert.equal(sampleValue(p, 'launchfleet_agent_spawn_seconds_sum'), 0.03);
    assert.equal(sampleValue(p, 'launchfleet_agent_spawn_seconds_bucket', { le: '0.025' }), 0);
    assert.equal(sampleValue(p, 'launchfleet_agent_spawn_seconds_bucket', { le: '0.05' }), 1);
    await t.m.stop();
  });

  it('StartInterval lag is how late a loaded scheduler delivered the firing', async () => {
    const t = await setup({
      // Every timer fires 250 ms late, as on a busy event loop.
      scheduler: (clock) => ({ after: (ms, fn) => clock.after(ms + 250, fn) }),
    });
    t.spawner.script('tick', { runForMs: 10 });
    await load(t, 'tick', { startInterval: 5 });
    let p = await t.scrape();
    assert.equal(sampleValue(p, 'launchfleet_job_timer_lag_seconds', job('tick')), undefined);
    await advance(t.clock, 5400, 50);
    p = await t.scrape();
    assert.equal(sampleValue(p, 'launchfleet_job_timer_lag_seconds', job('tick')), 0.25);
    assert.equal(sampleValue(p, 'launchfleet_job_exits_total', { ...job('tick'), reason: 'success' }), 1);
    await t.m.stop();
  });

  it('StartCalendarInterval lag is how long after its wall time a firing ran (sleep)', async () => {
    const t = await setup();
    // The FakeClock starts at 12:00 UTC; the job wants 12:30. The machine sleeps until 12:45.
    await load(t, 'cal', { startCalendarInterval: [{ minute: 30 }] });
    t.clock.jumpWall(45 * 60_000);
    t.m.checkClock();
    await flush();
    const p = await t.scrape();
    assert.equal(sampleValue(p, 'launchfleet_job_timer_lag_seconds', job('cal')), 15 * 60);
    assert.equal(stateOf(p, 'cal'), 'active');
    await t.m.stop();
  });

  it('counts starts caused by a readable socket automatically, and the explicit hook for known jobs only', async () => {
    const t = await setup();
    const sockets = [
      {
        name: 'Listeners',
        sockets: [{ type: 'stream', passive: true, family: 'IPv4', serviceName: '8080' }],
      },
    ];
    t.spawner.script('web', { runForMs: 100 });
    await load(t, 'web', { sockets } as unknown as JobSpecInput);
    let p = await t.scrape();
    assert.equal(sampleValue(p, 'launchfleet_job_socket_activations_total', job('web')), 0);
    const fire = t.readable.get('web');
    assert.ok(fire, 'the socket demand source is armed');
    fire();
    await advance(t.clock, 200);
    p = await t.scrape();
    assert.equal(sampleValue(p, 'launchfleet_job_socket_activations_total', job('web')), 1);
    t.metrics.socketActivation('system', 'web');
    t.metrics.socketActivation('system', 'not-loaded');
    t.metrics.socketActivation('gui/999', 'web');
    p = await t.scrape();
    assert.equal(sampleValue(p, 'launchfleet_job_socket_activations_total', job('web')), 2);
    assert.equal(samplesOf(p, 'launchfleet_job_socket_activations_total', { label: 'not-loaded' }).length, 0);
    assert.equal(samplesOf(p, 'launchfleet_job_socket_activations_total', { domain: 'gui/999' }).length, 0);
    await t.m.stop();
  });
});

describe('agent metrics: the link and load failures', () => {
  it('reads the link at scrape time, bounded; a throwing link reads as disconnected', async () => {
    let connected = true;
    const refusals: Record<string, number> = { 'bad-signature': 2, expired: 1 };
    const link: LinkMetricsSource = {
      connected: () => connected,
      desiredRevision: () => 42,
      refusals: () => refusals,
      drift: () => ({ 'plist-changed': 3, bogus: -1 }),
      sessionChanges: () => ({ connect: 2, moved_lame_duck: 1, moved_home: 0, move_failed: 0 }),
    };
    const t = await setup({ link });
    let p = await t.scrape();
    const changes = 'launchfleet_agent_nats_session_changes_total';
    assert.equal(sampleValue(p, changes, { kind: 'connect' }), 2);
    assert.equal(sampleValue(p, changes, { kind: 'moved_lame_duck' }), 1);
    assert.equal(sampleValue(p, changes, { kind: 'moved_home' }), 0);
    assert.equal(sampleValue(p, 'launchfleet_agent_nats_connected'), 1);
    assert.equal(sampleValue(p, 'launchfleet_agent_desired_state_revision'), 42);
    assert.equal(
      sampleValue(p, 'launchfleet_agent_signature_refusals_total', { reason: 'bad-signature' }),
      2,
    );
    assert.equal(sampleValue(p, 'launchfleet_agent_drift_total', { kind: 'plist-changed' }), 3);
    assert.equal(samplesOf(p, 'launchfleet_agent_drift_total', { kind: 'bogus' }).length, 0);
    connected = false;
    refusals['bad-signature'] = 5;
    for (let i = 0; i < 100; i++) refusals[`r${String(i).padStart(3, '0')}`] = i;
    p = await t.scrape();
    assert.equal(sampleValue(p, 'launchfleet_agent_nats_connected'), 0);
    assert.equal(
      sampleValue(p, 'launchfleet_agent_signature_refusals_total', { reason: 'bad-signature' }),
      5,
    );
    assert.equal(samplesOf(p, 'launchfleet_agent_signature_refusals_total').length, 32);
    t.metrics.setLink({
      connected: () => {
        throw new Error('boom');
      },
      desiredRevision: () => Number.NaN,
      refusals: () => {
        throw new Error('boom');
      },
      drift: () => ({}),
    });
    p = await t.scrape();
    assert.equal(sampleValue(p, 'launchfleet_agent_nats_connected'), 0);
    assert.equal(sampleValue(p, 'launchfleet_agent_desired_state_revision'), 0);
    // A link without session counts (an older one): the family, no samples.
    assert.equal(samplesOf(p, changes).length, 0);
    assert.equal(samplesOf(p, 'launchfleet_agent_signature_refusals_total').length, 0);
    t.metrics.setLink(undefined);
    p = await t.scrape();
    assert.equal(sampleValue(p, 'launchfleet_agent_nats_connected'), 0);
    await t.m.stop();
  });

  it("the node's credentials: expiry in seconds, expired 0/1, renewals; 0 without a link or expiry", async () => {
    let creds: { expiresAt: number | undefined; expired: boolean; renewals: number } | undefined = {
      expiresAt: 1_800_000_123_456,
      expired: false,
      renewals: 3,
    };
    const link: LinkMetricsSource = {
      connected: () => true,
      desiredRevision: () => 1,
      refusals: () => ({}),
      drift: () => ({}),
      credentials: () => creds,
    };
    const t = await setup({ link });
    const expiry = 'launchfleet_agent_credentials_expiry_timestamp_seconds';
    const expired = 'launchfleet_agent_credentials_expired';
    const renewals = 'launchfleet_agent_credential_renewals_total';
    let p = await t.scrape();
    assert.equal(sampleValue(p, expiry), 1_800_000_123);
    assert.equal(sampleValue(p, expired), 0);
    assert.equal(sampleValue(p, renewals), 3);
    creds = { expiresAt: 1_700_000_000_000, expired: true, renewals: 4 };
    p = await t.scrape();
    assert.equal(sampleValue(p, expired), 1);
    assert.equal(sampleValue(p, renewals), 4);
    creds = { expiresAt: undefined, expired: false, renewals: Number.NaN };
    p = await t.scrape();
    assert.equal(sampleValue(p, expiry), 0);
    assert.equal(sampleValue(p, renewals), 0);
    t.metrics.setLink(undefined);
    p = await t.scrape();
    assert.equal(sampleValue(p, expiry), 0);
    assert.equal(sampleValue(p, expired), 0);
    assert.equal(sampleValue(p, renewals), 0);
    await t.m.stop();
  });

  it('load failures from a bootstrap report show as load_failed 1 until the label loads', async () => {
    const t = await setup();
    t.metrics.recordBootstrapReport('system', {
      loaded: [],
      failures: [
        {
          code: 109,
          error: 'Invalid property list',
          message: 'x',
          path: '/Library/LaunchDaemons/com.acme.broken.plist',
        },
        { code: 122, error: 'Path had bad ownership/permissions', message: 'x', label: 'com.acme.perms' },
        { code: 37, error: 'Operation already in progress', message: 'x', label: 'com.acme.dup' },
        { code: 108, error: 'Invalid path', message: 'x', path: '/x/../' },
      ],
      skipped: [],
    });
    let p = await t.scrape();
    assert.equal(sampleValue(p, 'launchfleet_job_load_failed', job('com.acme.broken')), 1);
    assert.equal(sampleValue(p, 'launchfleet_job_load_failed', job('com.acme.perms')), 1);
    assert.equal(samplesOf(p, 'launchfleet_job_load_failed').length, 2);
    await load(t, 'com.acme.broken', {});
    t.metrics.recordBootstrapReport('system', { loaded: ['com.acme.broken'], failures: [], skipped: [] });
    p = await t.scrape();
    assert.equal(sampleValue(p, 'launchfleet_job_load_failed', job('com.acme.broken')), 0);
    assert.deepEqual(t.metrics.snapshot().loadFailed, [job('com.acme.perms')]);
    t.metrics.setLoadFailed('system', 'com.acme.perms', false);
    p = await t.scrape();
    assert.equal(samplesOf(p, 'launchfleet_job_load_failed', job('com.acme.perms')).length, 0);
    await t.m.stop();
  });
});

describe('agent metrics: wiring', () => {
  it('close() stops counting; the catalog types are the exposition types', async () => {
    const t = await setup();
    const p = await t.scrape();
    assert.equal(p.types.get('launchfleet_job_exits_total'), 'counter');
    assert.equal(p.types.get('launchfleet_job_state'), 'gauge');
    assert.equal(p.types.get('launchfleet_agent_spawn_seconds'), 'histogram');
    t.metrics.close();
    t.spawner.script('late', { runForMs: 10, exitCode: 1 });
    await load(t, 'late', { runAtLoad: true });
    await advance(t.clock, 50);
    const q = await t.scrape();
    // Zero series appear for the loaded job, but its exit was not counted after close().
    assert.equal(sampleValue(q, 'launchfleet_job_runs_total', job('late')), 0);
    await t.m.stop();
  });
});
