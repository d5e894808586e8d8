/**
 * The fleet benchmark's harness at CI size, so it never rots: a real nats-server, the
 * controller in its own process, 300 simulated agents (real supervisor on simulated OS ports,
 * real fleet link) with every profile — healthy, crash-looping, slow-start, offline churn —
 * one apply, health queries and one broker restart. Correctness only, no timing: every agent
 * enrols, every agent that is not crash-looping ends up running the applied version (as the
 * controller's KV shows and as the agents' own supervisors say), the health answer covers the
 * whole fleet, and the agents come back after the broker restart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runFleetBench } from '../bench/fleet-bench.ts';

test(
  'fleet bench, CI size: every agent enrols, runs the applied job and reconnects',
  { timeout: 180_000 },
  async (t) => {
    const lines: string[] = [];
    const r = await runFleetBench({
      agents: 300,
      simProcs: 1,
      runs: 1,
      mix: 'healthy=70,crash=10,slow=10,churn=10',
      fast: true,
      anchorClients: 100,
      restarts: 1,
      healthQueries: 20,
      enrolTimeoutMs: 60_000,
      convergeTimeoutMs: 45_000,
      reconnectTimeoutMs: 30_000,
      churn: { offlineMs: 3000, onlineMs: 6000 },
      print: (l) => lines.push(l),
    });
    for (const l of lines) if (!l.startsWith('FLEET-BENCH')) t.diagnostic(l);
    assert.deepEqual(r.profiles, { healthy: 210, 'crash-looping': 30, 'slow-start': 30, churn: 30 });
    assert.equal(r.enrolment?.enrolled, 300, 'every agent is in the registry');
    assert.equal(r.enrolment?.reporting, 300, 'every agent put a status snapshot');

    const apply = r.applies[0];
    assert.ok(apply);
    assert.equal(apply.expected, 270);
    assert.equal(apply.reached, 270, 'every non-crash-looping node reported the applied version running');
    // The agents' own supervisors agree (churn agents run it even while their link is away).
    assert.deepEqual(r.finalRunning.byProfile, { healthy: 210, 'slow-start': 30, churn: 30 });

    const health = r.health[0]?.last ?? {};
    assert.equal(health['nodesTargeted'], 300);
    assert.equal(health['nodesReporting'], 300);
    assert.equal(health['nodesAtDesiredVersion'], 300);
    // Crash-looping agents' job is throttled between crashes (a crash every KeepAlive restart).
    assert.ok(Number(health['throttled']) + Number(health['crashLooping']) >= 1, JSON.stringify(health));

    const rc = r.reconnects[0];
    assert.ok(rc);
    assert.ok(
      (rc.groups['agents']?.n ?? 0) >= 270,
      `agents back after the restart: ${rc.groups['agents']?.n}`,
    );
    assert.equal(rc.groups['anchor']?.n, 100);
  },
);
