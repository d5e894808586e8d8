import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WriteGate, writeThroughGate } from './write-gate.ts';

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

/** A write that fails as the broker's (`unavailable`) `failures` times, then returns 'written'. */
function flaky(failures: number) {
  const calls = { n: 0 };
  const write = () => {
    calls.n++;
    return calls.n <= failures ? Promise.reject(new Error('disconnected')) : Promise.resolve('written');
  };
  return { calls, write };
}
const judge = (e: unknown) => ({ unavailable: String(e).includes('disconnected'), reason: String(e) });

test('writeThroughGate: a write cut off with its connection is tried again once the gate lets it, and succeeds', async () => {
  const { g } = gate();
  const { calls, write } = flaky(2);
  const r = await writeThroughGate(g, 4, write, judge);
  assert.deepEqual(r, { ok: true, value: 'written' });
  assert.equal(calls.n, 3);
  assert.equal(g.stopped, false);
  assert.equal(await g.admit(), 'go', 'the success opened the gate again');
});

test('writeThroughGate: at most `attempts` tries, and a failure that is not the broker is not retried', async () => {
  const { g } = gate(60_000);
  const down4 = flaky(10);
  const r = await writeThroughGate(g, 4, down4.write, judge);
  assert.deepEqual(r, { ok: false, tried: true, reason: 'Error: disconnected' });
  assert.equal(down4.calls.n, 4);
  const { g: g2 } = gate();
  let n = 0;
  const refused = await writeThroughGate(
    g2,
    4,
    () => {
      n++;
      return Promise.reject(new Error('wrong last sequence'));
    },
    judge,
  );
  assert.deepEqual(refused, { ok: false, tried: true, reason: 'Error: wrong last sequence' });
  assert.equal(n, 1);
});

test('writeThroughGate: a stopped gate: not tried at all, or (after a try) the last failure is reported', async () => {
  const { g, clock } = gate(5000);
  await g.failed({ ...down, probe: false });
  assert.equal(await g.admit(), 'probe');
  clock.t += 5000;
  await g.failed({ ...down, probe: true });
  assert.equal(g.stopped, true);
  let n = 0;
  const untried = await writeThroughGate(g, 4, () => Promise.resolve(++n), judge);
  assert.deepEqual(untried, { ok: false, tried: false, reason: 'timeout' });
  assert.equal(n, 0, 'nothing was sent');

  // A write whose first try failed while the gate then stopped: tried, with its own reason.
  const { g: g2, clock: c2 } = gate(5000);
  const r = await writeThroughGate(
    g2,
    4,
    () => {
      c2.t += 5000; // waits out a timeout
      return Promise.reject(new Error('disconnected'));
    },
    judge,
  );
  assert.equal(g2.stopped, true);
  assert.deepEqual(r, { ok: false, tried: true, reason: 'Error: disconnected' });
});
