/**
 * The fleet benchmark's harness at CI size, so it never rots and the fleet plane's promises hold
 * at 1,000 agents: a real nats-server, the controller in its own process, 1,000 simulated agents
 * (real supervisor on simulated OS ports, real fleet link) with every profile — healthy,
 * crash-looping, slow-start, offline churn — one apply, health queries and one broker restart with
 * an apply made while the agents are away. Correctness only, no timing:
 * - every agent enrols; every agent that is not crash-looping runs the applied version (as the
 *   controller's KV shows and as the agents' own supervisors say); health covers the whole fleet;
 * - no agent creates a JetStream consumer or makes a JetStream API request, ever (the broker's own
 *   advisories, test/src/bench/broker-counters.ts);
 * - after the broker restart every agent that was online has a working session again (counted by
 *   sessions, not connections), runs the version applied while it was away, no simulator process
 *   died, and the broker holds no more agent connections than there are agents.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runFleetBench } from '../bench/fleet-bench.ts';

test(
  'fleet bench, CI size: 1,000 agents enrol, run the applied job and reconnect, with no consumer or API request',
  { timeout: 420_000 },
  async (t) => {
    const lines: string[] = [];
    const r = await runFleetBench({
      agents: 1000,
      simProcs: 1,
      runs: 1,
      mix: 'healthy=70,crash=10,slow=10,churn=10',
      fast: true,
      anchorClients: 100,
      restarts: 1,
      healthQueries: 20,
      enrolTimeoutMs: 120_000,
      // A liveness bound, not a latency target (the benchmark reports the latency). Runs that
      // failed it (886/900, 889/900, 853/900, 805/900) were the benchmark's miscount, not late
      // nodes: churn agents whose link was stopped when the bench read the agents' ids had none
      // (fixed in sim-agent.ts; `expectedNodeIds` below guards it).
      convergeTimeoutMs: 60_000,
      reconnectTimeoutMs: 90_000,
      churn: { offlineMs: 3000, onlineMs: 6000 },
      print: (l) => lines.push(l),
    });
    for (const l of lines) if (!l.startsWith('FLEET-BENCH')) t.diagnostic(l);
    assert.deepEqual(r.profiles, { healthy: 700, 'crash-looping': 100, 'slow-start': 100, churn: 100 });
    assert.equal(r.enrolment?.enrolled, 1000, 'every agent is in the registry');
    assert.equal(r.enrolment?.reporting, 1000, 'every agent put a status snapshot');

    const apply = r.applies[0];
    assert.ok(apply);
    assert.equal(apply.expected, 900);
    assert.equal(apply.expectedNodeIds, 900, 'every agent the apply waits for has its node id');
    assert.equal(apply.reached, 900, 'every non-crash-looping node reported the applied version running');
    // The agents' own supervisors agree (churn agents run it even while their link is away).
    const running = r.finalRunning.byProfile;
    assert.equal(running['healthy'], 700);
    assert.equal(running['slow-start'], 100);
    // Churn agents go offline for 20 s of every minute: one that was away at the last apply runs
    // the previous version until it is back (3 of 100 in one CI run).
    assert.ok((running['churn'] ?? 0) >= 90, JSON.stringify(running));

    const health = r.health[0]?.last ?? {};
    assert.equal(health['nodesTargeted'], 1000);
    // Every node the apply waited for (the 900 whose job does not crash-loop) reports the job at
    // the version asked for. A crash-looping node's replacement is not waited for: one of them was
    // once between unloading the old version and loading the new one when the query came (CI,
    // 999 of 1,000), so those 100 may still be on their way.
    for (const field of ['nodesReporting', 'nodesAtDesiredVersion']) {
      const n = Number(health[field]);
      assert.ok(n >= 900 && n <= 1000, `${field}: ${n} (${JSON.stringify(health)})`);
    }
    // Crash-looping agents' job is throttled between crashes (a crash every KeepAlive restart).
    assert.ok(Number(health['throttled']) + Number(health['crashLooping']) >= 1, JSON.stringify(health));

    // The broker's own count, phase by phase: agents asked JetStream's API nothing.
    for (const [phase, c] of Object.entries(r.broker)) {
      assert.equal(c['agentConsumerCreates'], 0, `${phase}: consumers created by agents`);
      assert.equal(c['agentApiRequests'], 0, `${phase}: JetStream API requests by agents`);
    }
    assert.ok(Object.keys(r.broker).length >= 3, Object.keys(r.broker).join(', '));

    const rc = r.reconnects[0];
    assert.ok(rc);
    // Every agent that was online at the restart has a session again (churn agents, which come
    // and go by themselves, are counted apart).
    assert.equal(rc.sessions, 900, `agent sessions after the restart: ${rc.sessions}`);
    assert.equal(rc.simulatorsAlive, 1, 'no simulator process died');
    assert.ok(rc.awayApply, 'the apply made while the agents were away was accepted');
    assert.ok(
      rc.awayApply.running === 800,
      `nodes running the version applied while they were away: ${rc.awayApply.running}`,
    );
    assert.ok(
      rc.brokerAgentConnections <= 1000,
      `the broker holds ${rc.brokerAgentConnections} agent connections for 1,000 agents`,
    );
    assert.equal(rc.groups['anchor']?.n, 100);
  },
);
