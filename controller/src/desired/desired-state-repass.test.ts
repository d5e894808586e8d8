/**
 * The apply's conflict re-pass (desired-state-service.ts, `#apply`'s `fresh` and `wroteBefore`):
 * an apply that re-delivers the label's current version and finds another bundle at that version
 * on some node (a rotated key) takes a new version after all and writes it everywhere; and when
 * that second pass fails on the broker, its error says "nothing was changed" only where the
 * first pass wrote no node's key either. Over fake buckets (testing/fake-stores.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { errors as natsErrors } from '@nats-io/nats-core';
import { jserrors } from '@nats-io/jetstream/internal';
import { UnavailableError } from '@launchfleet/shared';
import { keys } from '@launchfleet/shared/messages';
import { generateSigningKey, parseSignedBundle } from '@launchfleet/shared/signing';
import { FakeClock } from '@launchfleet/shared/testing';
import { toServiceError } from '../api/status.ts';
import { FakeKv, bundleFor, jobRecordJson, serviceOverFakes } from './testing/fake-stores.ts';

const label = 'com.acme.repass';
const plist =
  `<?xml version="1.0"?><plist version="1.0"><dict><key>Label</key><string>${label}</string>` +
  '<key>ProgramArguments</key><array><string>/bin/true</string></array></dict></plist>';
const nodes = ['naaaaaaaaaaaaaaaaaaa2', 'naaaaaaaaaaaaaaaaaaa3'];
const [n1, n2] = nodes as [string, string];
/**
 * Version 3 of the label, applied a minute ago with the same plist and target (so an apply now
 * re-delivers it), and on each node of `rotated` a bundle of version 3 signed by another key;
 * the other nodes hold nothing yet (the first pass writes them).
 */
function fleet(rotated: readonly string[]) {
  const clock = new FakeClock();
  const issuedAt = clock.wallMs() - 60_000;
  const jobs = new FakeKv();
  jobs.seed(keys.job(label), jobRecordJson({ label, plist, nodeIds: nodes, updatedAt: issuedAt }));
  const desired = new FakeKv();
  const old = generateSigningKey();
  for (const nodeId of rotated)
    desired.seed(
      keys.desired(nodeId, label),
      bundleFor({ label, plist, version: 3, nodeId, issuedAt, key: old }),
    );
  const state = { connected: true };
  const key = generateSigningKey();
  const service = serviceOverFakes(
    { jobs, desired, nodes, key, clock },
    { brokerConnected: () => state.connected },
  );
  const apply = () => service.apply({ plist, domain: 'system', target: { kind: 'all' }, by: 'op' });
  const version = (n: string): number | undefined => {
    const v = desired.value(keys.desired(n, label));
    const p = v === undefined ? undefined : parseSignedBundle(v);
    return p?.ok ? p.signed.bundle.version : undefined;
  };
  return { jobs, desired, state, apply, version };
}

/** Calls of `kv` on the job record so far: the re-pass is the one that writes it. */
const recordCalls = (kv: FakeKv, call: string) => kv.calls.filter((c) => c === `${call} ${keys.job(label)}`);

const noResponders = () =>
  new jserrors.JetStreamNotEnabled('jetstream is not enabled', {
    cause: new natsErrors.RequestError('no responders', {
      cause: new natsErrors.NoRespondersError(`$KV.lf_jobs.${label}`),
    }),
  });

test('a re-delivery that finds another bundle at its version takes a new version and writes every node', async () => {
  const f = fleet([n1]);
  const r = await f.apply();
  assert.equal(r.version, 4);
  assert.deepEqual(r.failures, []);
  assert.equal(r.written, 2, 'the re-pass writes both nodes: n2 (v3 in the first pass) and n1');
  assert.deepEqual(
    nodes.map((n) => f.version(n)),
    [4, 4],
  );
  const record = JSON.parse(f.jobs.value(keys.job(label)) ?? '{}') as { version?: number };
  assert.equal(record.version, 4, 'the job record took it');
  assert.equal(recordCalls(f.jobs, 'update').length, 1, 'one new version, taken once');
});

/**
 * The ways the re-pass's first step (the job record's new version) fails on the broker, each
 * switched on once the first pass is over (its one read of the record done).
 */
const repassOutages: [string, (f: ReturnType<typeof fleet>) => void][] = [
  [
    'the record could not be read again',
    (f) =>
      (f.jobs.failWith = (call) =>
        call === 'get' && recordCalls(f.jobs, 'get').length > 1 ? new natsErrors.TimeoutError() : undefined),
  ],
  [
    'the controller lost its connection',
    (f) => {
      const first = f.jobs.failWith;
      f.jobs.failWith = (call, key) => {
        if (call === 'get' && recordCalls(f.jobs, 'get').length > 1) f.state.connected = false;
        return first(call, key);
      };
    },
  ],
  [
    'the new version reached no stream',
    (f) => (f.jobs.failWith = (call) => (call === 'update' ? noResponders() : undefined)),
  ],
];

test('a re-pass the broker did not answer, after the first pass wrote a key: not "nothing was changed"', async () => {
  for (const [what, outage] of repassOutages) {
    const f = fleet([n1]);
    outage(f);
    const e = await f.apply().then(
      () => assert.fail(`${what}: the apply should fail`),
      (x: unknown) => x,
    );
    assert.ok(e instanceof UnavailableError, `${what}: ${String(e)}`);
    assert.equal(f.version(n2), 3, `${what}: the first pass wrote n2`);
    assert.equal(e.changedNothing, false, what);
    const details = toServiceError(e, false).details;
    assert.doesNotMatch(details, /nothing was changed/, what);
    assert.match(details, /may or may not take effect/, what);
  }
});

test('a re-pass the broker did not answer, after a first pass that wrote nothing: nothing was changed', async () => {
  for (const [what, outage] of repassOutages) {
    const f = fleet(nodes);
    outage(f);
    const e = await f.apply().then(
      () => assert.fail(`${what}: the apply should fail`),
      (x: unknown) => x,
    );
    assert.ok(e instanceof UnavailableError, `${what}: ${String(e)}`);
    assert.deepEqual(
      f.desired.calls.filter((c) => !c.startsWith('get ')),
      [],
      `${what}: no key written`,
    );
    assert.equal(e.changedNothing, true, what);
    assert.match(toServiceError(e, false).details, /nothing was changed: retry/, what);
  }
});
