/**
 * An idle controller with a rollout history asks nothing of JetStream that leaves a consumer
 * behind: the rollout driver, the rollout alerts and the rollout gauges follow `lf_rollouts`
 * through one long-lived watch (rollout/rollout-cache.ts), not a listing (`kv.keys()` is an
 * ordered consumer on the server each time it is called). Counted by the broker itself: the
 * `$JS.EVENT.ADVISORY.CONSUMER.CREATED` advisories and the consumer count of `/jsz`.
 *
 * The window (12 s) spans two of the alert runtime's former 5 s rollout scans and, with the
 * test's 150 ms driver tick, about eighty of the former driver's per-tick listings. For a longer
 * look, `LF_IDLE_SECONDS=180 node scripts/run-tests.mjs --tier integration --grep controller-idle`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { JsAdvisories } from '../support/js-advisories.ts';
import { type RolloutController, startRolloutController } from '../support/rollout-controller.ts';
import { awaitPhase, runningCommand, versionedPlist } from '../support/rollout-fleet.ts';
import { eventually } from '../support/link-node.ts';

const idleMs = 1000 * (Number(process.env['LF_IDLE_SECONDS']) || 12);

async function jszConsumers(monitorPort: number): Promise<number> {
  const r = await fetch(`http://127.0.0.1:${monitorPort}/jsz`);
  const j = (await r.json()) as { consumers?: number };
  return j.consumers ?? 0;
}

describe('an idle controller with a rollout history', () => {
  let rc: RolloutController;

  before(async () => {
    rc = await startRolloutController(1);
  });

  after(async () => {
    await rc?.close();
  });

  test(
    'creates no JetStream consumer and keeps the number on the server constant',
    { timeout: idleMs + 120_000 },
    async (t) => {
      const c = rc.controller;
      const node = rc.nodes[0];
      assert.ok(node);
      const label = 'com.acme.idle';
      const applied = await c.app.desired.apply({
        plist: versionedPlist(label, 1),
        domain: 'system',
        target: { kind: 'all' },
        by: 'test',
      });
      assert.equal(applied.written, 1);
      await eventually(async () => (await runningCommand(node, label)) === 'sleep 301', 15_000, 'v1 running');
      for (const v of [2, 3, 4]) {
        await c.rollouts.service.start({
          rolloutId: `idle-${v}`,
          plist: versionedPlist(label, v),
          target: { kind: 'all' },
          strategy: { kind: 'all-at-once' },
          gate: {
            minHealthySeconds: 1,
            progressDeadlineSeconds: 20,
            maxUnhealthy: { n: 1 },
            requireNoCrashInWindow: true,
          },
          by: 'test',
        });
        const r = await awaitPhase(c.rollouts, `idle-${v}`, ['succeeded', 'rolled-back', 'failed'], 40_000);
        assert.equal(r.state.phase.kind, 'succeeded');
      }
      // Let the last rollout's own traffic (events, audit, the agents' reports) settle.
      await sleep(1500);
      const advisories = new JsAdvisories(c.app.nc);
      await advisories.ready(c.app.nc);
      const before = await jszConsumers(rc.fleet.server.monitorPort);
      await sleep(idleMs);
      await c.app.nc.flush();
      const afterIdle = await jszConsumers(rc.fleet.server.monitorPort);
      advisories.stop();
      const created = advisories.consumersCreated.map((x) => `${x.stream}/${x.consumer}`);
      t.diagnostic(
        `idle ${idleMs / 1000} s: ${created.length} consumers created; /jsz consumers ${before} -> ${afterIdle}`,
      );
      assert.deepEqual(
        created,
        [],
        `${created.length} consumers created in ${idleMs / 1000} s of idling (${before} -> ${afterIdle} on /jsz)`,
      );
      assert.equal(afterIdle, before, `consumers on /jsz: ${before} before, ${afterIdle} after`);
    },
  );
});
