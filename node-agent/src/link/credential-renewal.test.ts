import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeClock } from '@launchfleet/shared/testing';
import { CredentialRenewal, type ReenrolOutcome } from './credential-renewal.ts';

test('re-enrolment of expired credentials: only a refusal waits for a new token; an unreachable controller is retried', async () => {
  const root = await mkdtemp(join(tmpdir(), 'lf-reenrol-'));
  try {
    const tokenFile = join(root, 'bootstrap.token');
    await writeFile(tokenFile, 'lfbt_used\n');
    const clock = new FakeClock();
    const renewal = new CredentialRenewal({
      identity: {
        nodeId: 'n1',
        credsPath: join(root, 'node.creds'),
        trustStorePath: join(root, 'trust.json'),
      },
      clock,
      scheduler: clock,
      random: () => 0.5,
      log: () => undefined,
      onRenewed: () => undefined,
    });
    const outcomes: ReenrolOutcome[] = [];
    let calls = 0;
    const attempt = () =>
      renewal.reenrol(
        tokenFile,
        () => {
          calls++;
          return Promise.resolve(outcomes.shift() ?? 'refused');
        },
        () => 'why',
      );

    // The network is still down: nothing was judged, so the next attempt goes out at once.
    outcomes.push('unreachable', 'unreachable');
    await assert.rejects(
      attempt(),
      /could not reach the controller \(why\), retried with backoff: write a new/,
    );
    await assert.rejects(attempt(), /could not reach the controller/);
    assert.equal(calls, 2);
    // A refusal: the used-up token is not offered again until the file changes or 10 min pass.
    outcomes.push('refused');
    await assert.rejects(attempt(), /failed \(why\): write a new bootstrap token there/);
    assert.equal(calls, 3);
    // While it waits, it still says why it was refused.
    await assert.rejects(attempt(), /failed \(why\) and waits for a new token: write a new/);
    clock.advance(9 * 60_000);
    await assert.rejects(attempt(), /waits for a new token/);
    assert.equal(calls, 3, 'a refused token is not hammered');
    clock.advance(60_000);
    outcomes.push('refused');
    await assert.rejects(attempt(), /failed \(why\)/);
    assert.equal(calls, 4, 'retried after 10 minutes');
    // A new token in the file: tried at once, and it works.
    await utimes(tokenFile, new Date(), new Date(Date.now() + 5000));
    outcomes.push('enrolled');
    await attempt();
    assert.equal(calls, 5);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
