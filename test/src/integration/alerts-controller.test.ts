/**
 * The controller's own alert events against a real nats-server: a node (real enrolled identity,
 * own credentials) reports a crash-looping job; two controllers evaluate the same fleet and
 * exactly one `alert-firing` and one `alert-resolved` event reach the gRPC WatchEvents stream
 * (lf_alerts decides who publishes), with the rule's labels and one alert id; the counter
 * `launchfleet_alert_events_total` counts them. A controller started after another one fired
 * adopts the record and resolves it (and removes a malformed record instead of failing).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { jobStateReport } from '@launchfleet/shared/job';
import { Kvm } from '@nats-io/kv';
import { buckets, keys } from '@launchfleet/shared/messages';
import { type RunningController, startController } from '@launchfleet/controller';
import { defaultAlertSettings, withHoldDowns } from '@launchfleet/controller/alerts';
import type { NodeIdentity } from '@launchfleet/node-agent/link';
import { ControllerFleet, RawApi } from '../support/controller-fleet.ts';
import { eventually } from '../support/eventually.ts';

/** `eventually` for a synchronous condition (state filled in by event handlers). */
const until = <T>(fn: () => T, timeoutMs: number, intervalMs?: number): Promise<T> =>
  eventually(() => Promise.resolve().then(fn), timeoutMs, intervalMs);

const label = 'com.acme.crashy';
type Obj = Record<string, unknown>;

describe('controller: alert events on NATS and the gRPC event stream', () => {
  let fleet: ControllerFleet;
  const controllers: RunningController[] = [];
  let node: NodeIdentity;
  const hold = withHoldDowns(defaultAlertSettings, ['JobCrashLooping=500ms']);
  assert.ok(hold.ok);

  const start = async (name: string) => {
    const { cfg } = await fleet.config();
    const c = await startController(cfg, {
      name,
      log: () => undefined,
      alerts: { settings: hold.value, tickMs: 100 },
    });
    controllers.push(c);
    return c;
  };
  const crashLooping = (on: boolean) =>
    fleet.putStatus(node, {
      health: on ? 'failing' : 'ok',
      jobs: {
        [label]: on ? jobStateReport('spawn-scheduled', 'exit-code') : jobStateReport('running', 'success'),
      },
      versions: {},
      details: {
        [label]: on
          ? { domain: 'system', crashLooping: true, successiveCrashes: 6, lastExitStatus: 1 }
          : { domain: 'system' },
      },
    });
  /** Stored alert events of the last minute, as `launchfleet events --source controller` gets them. */
  const storedAlerts = async (c: RunningController): Promise<Obj[]> => {
    const api = new RawApi(c.grpcPort, undefined);
    try {
      const call = api.stream(
        'WatchEvents',
        { source: 'controller', historySeconds: 60 },
        fleet.tokens.viewer,
      );
      const out: Obj[] = [];
      await new Promise<void>((res) => {
        call.on('data', (e: Obj) => out.push(e));
        call.on('end', res);
        call.on('error', () => res());
      });
      return out.filter((e) => String(e['kind']).startsWith('alert-'));
    } finally {
      api.close();
    }
  };
  const metric = async (c: RunningController): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${c.metricsPort}/metrics`)).text();
    const m = /^launchfleet_alert_events_total\{alert="LaunchfleetJobCrashLooping"\} (\d+)$/m.exec(text);
    assert.ok(m, 'the counter has a series per alert');
    return Number(m[1]);
  };

  before(async () => {
    fleet = await ControllerFleet.start();
  });
  after(async () => {
    for (const c of controllers) await c.stop().catch(() => undefined);
    await fleet.close();
  });

  test('two controllers: one firing and one resolved event, same id, rule labels, counted', async () => {
    const a = await start('ctl-a');
    const b = await start('ctl-b');
    [node] = (await fleet.enrollNodes(a, 1)) as [NodeIdentity];
    // A follower on controller B's stream sees the events live.
    const api = new RawApi(b.grpcPort, undefined);
    const live: Obj[] = [];
    // history first: an event published before the stream's consumer exists is still delivered.
    const call = api.stream('WatchEvents', { follow: true, label, historySeconds: 60 }, fleet.tokens.viewer);
    call.on('data', (e: Obj) => live.push(e));
    try {
      await crashLooping(true);
      await until(() => {
        assert.ok(live.some((e) => e['kind'] === 'alert-firing'));
        // Both evaluators reached firing: only one of them may have published.
        for (const c of [a, b])
          assert.ok(c.alerts.evaluator.firing().some((x) => x.name === 'LaunchfleetJobCrashLooping'));
      }, 15_000);
      const firing = live.find((e) => e['kind'] === 'alert-firing') ?? {};
      assert.equal(firing['source'], 'controller');
      assert.equal(firing['reason'], 'LaunchfleetJobCrashLooping');
      assert.equal(firing['label'], label);
      const detail = String(firing['detail']);
      const key = keys.alert('LaunchfleetJobCrashLooping', node.nodeId, label);
      assert.match(detail, new RegExp(`^id=${key}@\\d+ node=${node.nodeId} severity=critical: `));
      assert.match(
        detail,
        /system\/com\.acme\.crashy .*crash-looping \(6 successive crashes, last exit status 1\)/,
      );
      const kv = await new Kvm(a.app.nc).open(buckets.alerts);
      assert.ok(await kv.get(key), 'the firing record is in lf_alerts');

      await crashLooping(false);
      await until(() => {
        assert.ok(live.some((e) => e['kind'] === 'alert-resolved'));
        for (const c of [a, b]) assert.deepEqual(c.alerts.evaluator.firing(), []);
      }, 15_000);
      const resolved = live.find((e) => e['kind'] === 'alert-resolved') ?? {};
      const id = /^id=(\S+)/.exec(detail)?.[1];
      assert.ok(String(resolved['detail']).startsWith(`id=${id} `), 'resolved carries the firing id');
      // Let a few more evaluation ticks pass on both: nothing else may be published.
      await sleep(500);
      const stored = await storedAlerts(a);
      assert.deepEqual(
        stored.map((e) => e['kind']),
        ['alert-firing', 'alert-resolved'],
        'exactly one event per edge across both controllers',
      );
      assert.equal((await metric(a)) + (await metric(b)), 2);
      assert.equal((await kv.get(key))?.operation ?? 'DEL', 'DEL', 'record removed on resolve');
    } finally {
      call.cancel();
      api.close();
    }
    for (const c of [a, b]) {
      await c.stop();
      controllers.splice(controllers.indexOf(c), 1);
    }
  });

  test('a controller started later adopts a firing record and resolves it', async () => {
    const a = await start('ctl-c');
    await crashLooping(true);
    await until(() => {
      assert.equal(a.alerts.published['LaunchfleetJobCrashLooping'], 1);
    }, 15_000);
    // A junk record (a bug, a hand edit) must not stop the next controller from starting.
    const junk = 'LaunchfleetNodeUnseen.junk';
    await (await new Kvm(a.app.nc).open(buckets.alerts)).put(junk, 'not json');
    await a.stop();
    controllers.splice(controllers.indexOf(a), 1);
    await crashLooping(false);
    const d = await start('ctl-d');
    const kv = await new Kvm(d.app.nc).open(buckets.alerts);
    assert.equal((await kv.get(junk))?.operation, 'DEL', 'the junk record was removed at start');
    await until(() => {
      assert.equal(
        d.alerts.published['LaunchfleetJobCrashLooping'],
        1,
        'the new controller published the resolve',
      );
    }, 15_000);
    const kinds = (await storedAlerts(d)).map((e) => e['kind']);
    assert.deepEqual(kinds.slice(-2), ['alert-firing', 'alert-resolved']);
  });
});
