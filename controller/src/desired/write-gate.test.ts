import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WriteGate } from './write-gate.ts';

/** A gate on a clock the test moves; sleeping moves it too. */
function gate(giveUpMs = 5000) {
  const clock = { t: 0 };
  const g = new WriteGate({
    now: () => clock.t,
    sleep: (ms) => {
      clock.t += ms;
      return Promise.resolve();
    },
    giveUpMs,
    pauseMs: 250,
  });
  return { g, clock };
}

const down = { unavailable: true, reason: 'timeout' };

test('open: every write goes', async () => {
  const { g } = gate();
  assert.deepEqual(await Promise.all([g.admit(), g.admit(), g.admit()]), ['go', 'go', 'go']);
});

test('after an unavailable failure one probe at a time; a probe that succeeds opens the gate', async () => {
  const { g, clock } = gate();
  await g.failed({ ...down, probe: false });
  assert.equal(g.reason, 'timeout');
  assert.equal(await g.admit(), 'probe');
  const waiting = [g.admit(), g.admit()];
  let settled = false;
  void Promise.all(waiting).then(() => (settled = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(settled, false, 'no second write while the probe is out');
  clock.t += 1000;
  g.succeeded();
  assert.deepEqual(await Promise.all(waiting), ['go', 'go']);
});

test('a probe that fails fast is retried after a pause; one failing after the budget stops the gate', async () => {
  const { g, clock } = gate(5000);
  await g.failed({ ...down, probe: false }); // t=0
  assert.equal(await g.admit(), 'probe');
  const waiter = g.admit();
  await g.failed({ ...down, probe: true }); // no responders at once: pause, then the next probe
  assert.equal(clock.t, 250);
  assert.equal(await waiter, 'probe');
  const rest = [g.admit(), g.admit()];
  clock.t += 5000; // this probe waited out a timeout
  await g.failed({ ...down, probe: true });
  assert.equal(g.stopped, true);
  assert.deepEqual(await Promise.all(rest), ['stop', 'stop']);
  assert.equal(await g.admit(), 'stop');
});

test('failures that are not about the broker neither close the gate nor stop it', async () => {
  const { g, clock } = gate();
  await g.failed({ unavailable: false, reason: 'conflict', probe: false });
  assert.equal(await g.admit(), 'go');
  await g.failed({ ...down, probe: false });
  assert.equal(await g.admit(), 'probe');
  const next = g.admit();
  clock.t += 10_000;
  await g.failed({ unavailable: false, reason: 'conflict', probe: true });
  assert.equal(await next, 'probe', 'the next write probes');
  assert.equal(g.stopped, false);
});
