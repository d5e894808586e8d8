/**
 * The controller's rollout and recurring-drift alerts against a real nats-server, two whole
 * controllers (each with its rollout runtime and alert runtime) and two real agents (in process:
 * the real fleet link over a real supervisor running /bin/sh jobs):
 *
 * - a rollout whose new version crashes fails its canary and is rolled back automatically:
 *   `LaunchfleetRolloutFailed` (state rolled_back) reaches `lf.events.controller.alert-firing`
 *   exactly once across both controllers, and the gRPC event stream;
 * - a managed job booted out by hand four times (each repaired by the agent) raises
 *   `LaunchfleetDriftRecurring` for that node and kind, once.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { type NodeEvent, buckets, eventsStream, keys, subjects } from '@launchfleet/shared/messages';
import { type RunningController, startController } from '@launchfleet/controller';
import { defaultAlertSettings, withHoldDowns } from '@launchfleet/controller/alerts';
import { ControllerFleet, RawApi } from '../support/controller-fleet.ts';
import { waitForEvents } from '../support/events.ts';
import { type LinkNode, eventually, startLinkNode } from '../support/link-node.ts';
import { awaitPhase, runningCommand, versionedPlist } from '../support/rollout-fleet.ts';

type Obj = Record<string, unknown>;

describe('controller alerts: failed rollouts and recurring drift', () => {
  let fleet: ControllerFleet;
  const controllers: RunningController[] = [];
  const nodes: LinkNode[] = [];
  const nodeIds: string[] = [];
  // The Prometheus rule's `for: 15m` would make the test wait 15 minutes; the window and the
  // threshold (> 3 in 1h) stay the rule's.
  const hold = withHoldDowns(defaultAlertSettings, ['DriftRecurring=300ms']);
  assert.ok(hold.ok);

  const ctl = (i: number): RunningController => {
    const c = controllers[i];
    assert.ok(c);
    return c;
  };
  const isAlert = (e: NodeEvent) => e.kind === 'alert-firing' || e.kind === 'alert-resolved';
  /** The controller alert events stored in LF_EVENTS once `done` holds (bounded wait). */
  const alertEvents = async (done: (es: readonly NodeEvent[]) => boolean, ms = 20_000) =>
    (await waitForEvents(ctl(0).app.nc, 'controller', (es) => done(es.filter(isAlert)), ms)).filter(isAlert);
  /** Every controller alert event stored in LF_EVENTS now (the stream says how many). */
  const storedAlertEvents = async (): Promise<NodeEvent[]> => {
    const info = await (
      await jetstreamManager(ctl(0).app.nc)
    ).streams.info(eventsStream.name, { subjects_filter: subjects.eventsOf('controller') });
    const n = Object.entries(info.state.subjects ?? {})
      .filter(([subject]) => subject.startsWith('lf.events.controller.alert-'))
      .reduce((sum, [, count]) => sum + count, 0);
    return alertEvents((es) => es.length >= n, 10_000);
  };

  before(async () => {
    fleet = await ControllerFleet.start({ offlineAfterSeconds: 2 });
    for (const name of ['alerts-ctl-a', 'alerts-ctl-b']) {
      const { cfg } = await fleet.config();
      controllers.push(
        await startController(cfg, {
          name,
          log: () => undefined,
          rollout: { tickMs: 150, leaseMs: 2000 },
          alerts: { settings: hold.value, tickMs: 100 },
        }),
      );
    }
    const enrollCreds = await fleet.identity.enrollCreds();
    for (let i = 0; i < 2; i++) {
      const { token } = await ctl(0).app.enrollment.createToken({ ttlMs: 60_000 });
      nodes.push(await startLinkNode({ urls: [fleet.server.url], token, enrollCreds }));
    }
    for (const x of nodes) {
      await eventually(() => x.link.status().connected, 20_000, 'agent connected');
      nodeIds.push(x.link.status().nodeId ?? '');
    }
    for (const c of controllers)
      await eventually(
        () =>
          nodeIds.every(
            (id) => c.aggregator.index.node(id)?.status && c.aggregator.index.node(id)?.registered,
          ),
        10_000,
        'nodes reporting to both controllers',
      );
  });

  after(async () => {
    await Promise.allSettled(nodes.map((x) => x.close()));
    for (const c of controllers) await c.stop().catch(() => undefined);
    await fleet?.close();
  });

  /** Applies v1 of `label` to every node and waits until each runs it. */
  const baseline = async (label: string): Promise<void> => {
    const r = await ctl(0).app.desired.apply({
      plist: versionedPlist(label, 1),
      domain: 'system',
      target: { kind: 'all' },
      by: 'test',
    });
    assert.equal(r.written, nodes.length);
    for (const node of nodes)
      await eventually(
        async () => (await runningCommand(node, label)) === 'sleep 301',
        15_000,
        `${label} v1 running`,
      );
  };

  test('a rollout rolled back after its canary failed raises LaunchfleetRolloutFailed once, on NATS and gRPC', async () => {
    const label = 'com.acme.alerting';
    await baseline(label);
    await ctl(1).rollouts.service.start({
      rolloutId: 'bad-1',
      plist: versionedPlist(label, 2, true),
      target: { kind: 'all' },
      strategy: {
        kind: 'canary-waves',
        canary: { n: 1 },
        waves: [{ percent: 100 }],
        maxUnavailable: { n: 1 },
      },
      gate: {
        minHealthySeconds: 1,
        progressDeadlineSeconds: 10,
        maxUnhealthy: { n: 1 },
        requireNoCrashInWindow: true,
      },
      by: 'test',
    });
    const done = await awaitPhase(ctl(0).rollouts, 'bad-1', ['rolled-back', 'succeeded', 'failed'], 45_000);
    assert.equal(done.state.phase.kind, 'rolled-back', JSON.stringify(done.state.history));

    const key = keys.alert('LaunchfleetRolloutFailed', 'bad-1', 'rolled_back');
    const failedFirings = (es: readonly NodeEvent[]) =>
      es.filter((e) => e.kind === 'alert-firing' && e.reason === 'LaunchfleetRolloutFailed');
    await alertEvents((es) => failedFirings(es).length > 0);
    // Both evaluators see it firing (one of them published); a few more ticks publish nothing more.
    await eventually(
      () => controllers.every((c) => c.alerts.evaluator.firing().some((a) => a.key === key)),
      10_000,
      'both controllers hold the alert as firing',
    );
    await sleep(600);
    const stored = await storedAlertEvents();
    const rolloutAlerts = stored.filter((e) => e.reason?.startsWith('LaunchfleetRollout'));
    assert.deepEqual(
      rolloutAlerts.map((e) => `${e.kind} ${e.reason}`),
      ['alert-firing LaunchfleetRolloutFailed'],
      'exactly one event across both controllers, and no flapping between rolling-back and rolled-back',
    );
    const ev = rolloutAlerts[0];
    assert.equal(ev?.label, label);
    assert.equal(ev?.domain, 'system');
    assert.match(
      ev?.detail ?? '',
      new RegExp(
        `^id=${key}@\\d+ rollout=bad-1 state=rolled_back severity=critical: rollout bad-1 of ${label} ended in state rolled_back at \\d+% of its target: .*canary failed`,
      ),
    );
    assert.equal(
      controllers.reduce((n, c) => n + (c.alerts.published['LaunchfleetRolloutFailed'] ?? 0), 0),
      1,
    );
    const kv = await new Kvm(ctl(0).app.nc).open(buckets.alerts);
    assert.equal((await kv.get(key))?.operation, 'PUT', 'the firing record is in lf_alerts');

    // The same event on the gRPC stream (`launchfleet events --source controller`).
    const api = new RawApi(ctl(1).grpcPort, undefined);
    try {
      const call = api.stream(
        'WatchEvents',
        { source: 'controller', historySeconds: 120 },
        fleet.tokens.viewer,
      );
      const out: Obj[] = [];
      await new Promise<void>((res) => {
        call.on('data', (e: Obj) => out.push(e));
        call.on('end', res);
        call.on('error', () => res());
      });
      assert.deepEqual(
        out
          .filter((e) => e['kind'] === 'alert-firing' && e['reason'] === 'LaunchfleetRolloutFailed')
          .map((e) => e['detail']),
        [ev?.detail],
      );
    } finally {
      api.close();
    }
  });

  test('a managed job booted out by hand four times raises LaunchfleetDriftRecurring for the node, once', async () => {
    const label = 'com.acme.fought';
    await baseline(label);
    const node = nodes[0];
    const nodeId = nodeIds[0] ?? '';
    assert.ok(node);
    const key = keys.alert('LaunchfleetDriftRecurring', nodeId, 'job-unloaded');
    const unloaded = () =>
      ctl(0).aggregator.index.node(nodeId)?.status?.counters?.drift?.['job-unloaded'] ?? 0;
    for (let i = 1; i <= 4; i++) {
      const pid = node.job(label)?.pid;
      assert.ok(pid !== undefined, 'the job runs before the bootout');
      const r = await node.system().bootout(label, { wait: true });
      assert.ok(r.ok);
      await eventually(() => unloaded() >= i, 15_000, `drift #${i} reported`);
      await eventually(
        () => (node.job(label)?.pid ?? pid) !== pid && node.job(label)?.pid,
        15_000,
        `job repaired after bootout #${i}`,
      );
      if (i === 3) {
        // Three repairs within the hour is not "> 3": nothing may fire yet.
        await sleep(500);
        assert.ok(
          controllers.every((c) => !c.alerts.evaluator.firing().some((a) => a.key === key)),
          'not recurring after three',
        );
      }
    }
    assert.equal(unloaded(), 4, 'one drift per bootout');
    const events = await alertEvents((es) =>
      es.some((e) => e.kind === 'alert-firing' && e.reason === 'LaunchfleetDriftRecurring'),
    );
    await eventually(
      () => controllers.every((c) => c.alerts.evaluator.firing().some((a) => a.key === key)),
      10_000,
      'both controllers hold the alert as firing',
    );
    await sleep(600);
    const recurring = (await storedAlertEvents()).filter((e) => e.reason === 'LaunchfleetDriftRecurring');
    assert.equal(recurring.length, 1, JSON.stringify(events));
    assert.equal(recurring[0]?.kind, 'alert-firing');
    assert.match(
      recurring[0]?.detail ?? '',
      new RegExp(
        `^id=${key}@\\d+ node=${nodeId} severity=warning reason=job-unloaded: managed jobs keep drifting on node ${nodeId}: drift of kind job-unloaded repaired 4 times`,
      ),
    );
    // Node 1 was left alone.
    assert.ok(!recurring.some((e) => e.detail?.includes(nodeIds[1] ?? '-')));
  });
});
