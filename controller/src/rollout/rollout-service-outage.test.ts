/**
 * A rollout command or start the broker did not answer before anything was written says that
 * nothing was changed (api/status.ts words it from UnavailableError.changedNothing).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { errors as natsErrors } from '@nats-io/nats-core';
import { UnavailableError } from '@launchfleet/shared';
import { FakeClock } from '@launchfleet/shared/testing';
import { toServiceError } from '../api/status.ts';
import { RolloutService } from './rollout-service.ts';
import type { RolloutStore } from './rollout-store.ts';
import { testSpec } from './testing/rollout-harness.ts';

function service(store: Partial<RolloutStore>): RolloutService {
  return new RolloutService({
    store: store as RolloutStore,
    versions: {} as never,
    applier: {} as never,
    candidates: () => [{ nodeId: 'n1', hostname: 'h1', labels: {}, registered: true, revoked: false }],
    clock: new FakeClock(),
  });
}

async function details(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => assert.fail('the call should fail'),
    (x: unknown) => x,
  );
  assert.ok(e instanceof UnavailableError, String(e));
  assert.equal(e.changedNothing, true);
  return toServiceError(e, false).details;
}

test('a rollout command whose rollout could not be read changed nothing', async () => {
  const s = service({
    get: () => Promise.reject(new natsErrors.TimeoutError()),
    mutate: () => assert.fail('nothing is queued'),
  });
  const d = await details(s.command('r1', 'pause', 'why', 'op'));
  assert.match(d, /did not answer \(reading rollout r1: timeout\); nothing was changed: retry/);
  assert.doesNotMatch(d, /may or may not/);
});

test('a rollout start whose rollouts could not be listed changed nothing', async () => {
  const s = service({ list: () => Promise.reject(new natsErrors.TimeoutError()) });
  const { strategy, gate } = testSpec(1);
  const plist =
    '<?xml version="1.0"?><plist version="1.0"><dict><key>Label</key><string>com.acme.r</string>' +
    '<key>ProgramArguments</key><array><string>/bin/true</string></array></dict></plist>';
  const d = await details(
    s.start({
      plist,
      target: { kind: 'all' },
      strategy,
      gate,
      by: 'op',
    }),
  );
  assert.match(d, /did not answer \(reading the rollouts: timeout\); nothing was changed: retry/);
});
