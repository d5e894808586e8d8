// The agent's /metrics end to end on the real adapters: a real /bin/sh job crash-loops under
// ThrottleInterval=1 while a real HTTP client scrapes the running metrics server; the exposition
// is parsed and checked by `promtool check metrics` (Debian's prometheus package). Then the
// scrape cost with 1,000 loaded jobs is measured and printed.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EXIT_REASON_VALUES, agentMetrics, jobMetrics } from '@launchfleet/shared/metrics';
import { systemClock, systemScheduler } from '@launchfleet/shared/clock';
import { normalizeJob } from '@launchfleet/shared/job';
import {
  RealFileSystem,
  RealProcessSpawner,
  RealUserDb,
  machineConfig,
  DomainManager,
  modelPlistLoader,
  type JobRunnerEvent,
} from '@launchfleet/node-agent';
import {
  createAgentMetrics,
  type AgentMetrics,
  startMetricsServer,
  type MetricsServer,
  parsePromText,
  sampleValue,
  samplesOf,
  type PromText,
} from '@launchfleet/node-agent/metrics';
import { within } from './adapters-helpers.ts';

const CRASHER = 'com.launchfleet.test.crasher';
const SLEEPER = 'com.launchfleet.test.sleeper';
const MISSING = 'com.launchfleet.test.missing';

function plist(label: string, body: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0"><dict>
  <key>Label</key><string>${label}</string>
${body}
</dict></plist>
`;
}

/** promtool's verdict on an exposition: exit status and what it printed. */
function promtool(body: string): { status: number | null; output: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

let dir = '';
let manager: DomainManager;
let metrics: AgentMetrics;
let server: MetricsServer;
const exits: { label: string; at: number }[] = [];
const waiters: { pred: () => boolean; resolve: () => void }[] = [];

function onEvent(_domain: string, label: string, ev: JobRunnerEvent): void {
  if (ev.type === 'exited') exits.push({ label, at: Date.now() });
  for (const w of waiters.splice(0)) {
    if (w.pred()) w.resolve();
    else waiters.push(w);
  }
}

/** Resolves when `pred` holds after a job event (no polling). */
function untilEvent(pred: () => boolean): Promise<void> {
  if (pred()) return Promise.resolve();
  return new Promise((resolve) => waiters.push({ pred, resolve }));
}

const exitCount = (label: string): number => exits.filter((e) => e.label === label).length;

async function scrape(): Promise<{ body: string; parsed: PromText; contentType: string | null }> {
  const res = await fetch(`http://127.0.0.1:${server.port}/metrics`);
  assert.equal(res.status, 200);
  const body = await res.text();
  const parsed = parsePromText(body);
  assert.deepEqual(parsed.problems, []);
  return { body, parsed, contentType: res.headers.get('content-type') };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lf-metrics-'));
  const daemons = join(dir, 'LaunchDaemons');
  mkdirSync(daemons);
  writeFileSync(
    join(daemons, `${CRASHER}.plist`),
    plist(
      CRASHER,
      `  <key>ProgramArguments</key><array><string>/bin/sh</string><string>-c</string><string>exit 3</string></array>
  <key>KeepAlive</key><true/>
  <key>ThrottleInterval</key><integer>1</integer>`,
    ),
    { mode: 0o644 },
  );
  writeFileSync(
    join(daemons, `${SLEEPER}.plist`),
    plist(
      SLEEPER,
      `  <key>ProgramArguments</key><array><string>/bin/sleep</string><string>60</string></array>
  <key>RunAtLoad</key><true/>`,
    ),
    { mode: 0o644 },
  );
  writeFileSync(
    join(daemons, `${MISSING}.plist`),
    plist(
      MISSING,
      `  <key>Program</key><string>${dir}/no-such-program</string>
  <key>RunAtLoad</key><true/>`,
    ),
    { mode: 0o644 },
  );
  // Not a plist: its load failure shows as launchfleet_job_load_failed.
  writeFileSync(join(daemons, 'com.launchfleet.test.broken.plist'), 'this is not a plist', { mode: 0o644 });
  manager = new DomainManager({
    ports: {
      spawner: new RealProcessSpawner(),
      fs: new RealFileSystem(),
      users: new RealUserDb(),
      clock: systemClock,
      scheduler: systemScheduler,
    },
    config: machineConfig('842'),
    stateDir: join(dir, 'state'),
    daemonDirectories: [daemons],
    agentDirectories: [],
    loadHomeAgents: false,
    agentUid: 0,
    loader: modelPlistLoader(),
    log: () => undefined,
  });
  manager.onJobEvent(onEvent);
  metrics = createAgentMetrics({ domainManager: manager });
  server = await startMetricsServer({ port: 0 }, metrics.registry);
  const report = await manager.start();
  metrics.recordBootstrapReport('system', report);
  assert.deepEqual([...report.loaded].sort(), [CRASHER, MISSING, SLEEPER]);
});

after(async () => {
  metrics?.close();
  await server?.close();
  await manager?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('agent /metrics on the real adapters', () => {
  test('a /bin/sh job crash-looping under ThrottleInterval=1, scraped over HTTP', async () => {
    // Scrape right after each exit: the job is then held back by the throttle for about 1 s.
    let sawThrottled = 0;
    for (let n = 1; n <= 5; n++) {
      await within(
        untilEvent(() => exitCount(CRASHER) >= n),
        20_000,
        `exit ${n} of the crasher`,
      );
      const low = exitCount(CRASHER);
      const { parsed } = await scrape();
      const high = exitCount(CRASHER);
      const id = { domain: 'system', label: CRASHER };
      const failures =
        sampleValue(parsed, 'launchfleet_job_exits_total', { ...id, reason: 'exit-code' }) ?? -1;
      assert.ok(failures >= low && failures <= high, `exits_total ${failures} within [${low}, ${high}]`);
      assert.equal(sampleValue(parsed, 'launchfleet_job_runs_total', id), failures);
      for (const reason of EXIT_REASON_VALUES.filter((r) => r !== 'exit-code'))
        assert.equal(sampleValue(parsed, 'launchfleet_job_exits_total', { ...id, reason }), 0);
      assert.equal(sampleValue(parsed, 'launchfleet_job_last_exit_status', id), 3);
      const throttled = sampleValue(parsed, 'launchfleet_job_throttled', id);
      const activating = sampleValue(parsed, 'launchfleet_job_state', { ...id, state: 'activating' });
      // Throttled (sub-state spawn-scheduled) is one of the activating sub-states (spawning is the other).
      assert.ok((throttled ?? 0) <= (activating ?? 0), 'throttled only while activating');
      sawThrottled += throttled ?? 0;
      const spawn = sampleValue(parsed, 'launchfleet_job_spawn_duration_seconds', id) ?? -1;
      assert.ok(spawn > 0 && spawn < 5, `spawn latency ${spawn} s`);
    }
    assert.ok(sawThrottled >= 3, `throttled seen in ${sawThrottled} of 5 scrapes`);

    const { parsed, body, contentType } = await scrape();
    const id = { domain: 'system', label: CRASHER };
    assert.equal(contentType, 'text/plain; version=0.0.4; charset=utf-8');
    assert.equal(sampleValue(parsed, 'launchfleet_job_crash_looping', id), 1);
    assert.ok((sampleValue(parsed, 'launchfleet_job_successive_crashes', id) ?? 0) >= 5);
    // The exits were real: 1 s apart at least (the throttle), each counted once.
    const times = exits.filter((e) => e.label === CRASHER).map((e) => e.at);
    for (let i = 1; i < times.length; i++)
      assert.ok((times[i] ?? 0) - (times[i - 1] ?? 0) >= 900, `exits ${i - 1} and ${i} 1 s apart`);
    // The other jobs: a running sleeper, a program that cannot exec, a plist that cannot load.
    assert.equal(
      sampleValue(parsed, 'launchfleet_job_state', { domain: 'system', label: SLEEPER, state: 'active' }),
      1,
    );
    assert.equal(
      sampleValue(parsed, 'launchfleet_job_exits_total', {
        domain: 'system',
        label: MISSING,
        reason: 'spawn-failed',
      }),
      1,
    );
    assert.equal(
      sampleValue(parsed, 'launchfleet_job_state', {
        domain: 'system',
        label: MISSING,
        state: 'failed',
      }),
      1,
    );
    assert.equal(
      sampleValue(parsed, 'launchfleet_job_load_failed', {
        domain: 'system',
        label: 'com.launchfleet.test.broken',
      }),
      1,
    );
    assert.equal(sampleValue(parsed, 'launchfleet_agent_jobs_loaded', { domain_kind: 'system' }), 3);
    assert.equal(sampleValue(parsed, 'launchfleet_agent_nats_connected'), 0);
    assert.ok((sampleValue(parsed, 'launchfleet_agent_spawn_seconds_count') ?? 0) >= 6);

    // Every catalog name is exposed with its catalog type; promtool finds nothing to say.
    for (const d of [...Object.values(jobMetrics), ...Object.values(agentMetrics)])
      assert.equal(parsed.types.get(d.name), d.type, d.name);
    const verdict = promtool(body);
    assert.deepEqual(verdict, { status: 0, output: '' });

    // The snapshot for the fleet link says the same.
    const snap = metrics.snapshot().jobs.find((j) => j.label === CRASHER);
    assert.equal(snap?.crashLooping, true);
    assert.equal(snap?.lastExitStatus, 3);
  });

  test('bootout removes the job series from the live endpoint', async () => {
    const sys = manager.domain('system');
    assert.ok(sys.ok);
    const r = await within(sys.value.bootout(CRASHER, { wait: true }), 20_000, 'bootout');
    assert.ok(r.ok);
    const { parsed } = await scrape();
    assert.deepEqual(
      parsed.samples.filter((s) => s.labels.label === CRASHER),
      [],
    );
    assert.equal(sampleValue(parsed, 'launchfleet_agent_jobs_loaded', { domain_kind: 'system' }), 2);
  });

  test('scrape cost with 1,000 loaded jobs (printed), still valid for promtool', async () => {
    const sys = manager.domain('system');
    assert.ok(sys.ok);
    for (let i = 0; i < 1000; i++) {
      const label = `com.launchfleet.bench.job${String(i).padStart(4, '0')}`;
      const n = normalizeJob({ Label: label, ProgramArguments: ['/bin/true'] }, { domain: 'system' });
      assert.ok(n.spec, JSON.stringify(n.issues));
      const r = await sys.value.bootstrapSpec(n.spec);
      assert.ok(r.ok);
    }
    await scrape(); // warm-up
    const times: number[] = [];
    let size = 0;
    let wireBytes = 0;
    let body = '';
    for (let i = 0; i < 15; i++) {
      // What Prometheus pays: request, render, transfer (parsing is ours, outside the timing).
      const t0 = performance.now();
      const res = await fetch(`http://127.0.0.1:${server.port}/metrics`, {
        headers: { 'Accept-Encoding': 'gzip' },
      });
      wireBytes = Number(res.headers.get('content-length'));
      body = await res.text();
      times.push(performance.now() - t0);
      assert.equal(res.status, 200);
      size = Buffer.byteLength(body);
    }
    const parsed = parsePromText(body);
    assert.deepEqual(parsed.problems, []);
    // 1,000 idle jobs plus the sleeper and the job that cannot exec: one-hot over 1,002 jobs.
    assert.equal(samplesOf(parsed, 'launchfleet_job_state').filter((s) => s.value === 1).length, 1002);
    const renderTimes: number[] = [];
    for (let i = 0; i < 15; i++) {
      const t0 = performance.now();
      await metrics.registry.metrics();
      renderTimes.push(performance.now() - t0);
    }
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
    const series = parsed.samples.length;
    const snapshotBytes = Buffer.byteLength(JSON.stringify(metrics.snapshot()));
    console.log(
      `# scrape cost, 1002 jobs: HTTP median ${median(times).toFixed(1)} ms (max ${Math.max(...times).toFixed(1)}), ` +
        `render median ${median(renderTimes).toFixed(1)} ms, ${size} bytes (${wireBytes} gzipped on the wire), ` +
        `${series} series; snapshot JSON ${snapshotBytes} bytes`,
    );
    assert.ok(median(times) < 1000, `a scrape takes ${median(times)} ms`);
    assert.ok(size < 8 * 1024 * 1024);
    assert.deepEqual(promtool(body), { status: 0, output: '' });
  });
});
