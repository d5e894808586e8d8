import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeClock } from '@launchfleet/shared/testing';
import { createUser } from '@nats-io/nkeys';
import { errors as natsErrors } from '@nats-io/nats-core';
import type { NatsConnection } from '@nats-io/transport-node';
import { CredentialRenewal, type ReenrolOutcome } from './credential-renewal.ts';
import { formatCreds } from './credentials.ts';

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

test('a renewal NATS denies waits the longest retry, and says so naming the subject and the credential; no answer backs off from 30 s', async () => {
  const root = await mkdtemp(join(tmpdir(), 'lf-renew-denied-'));
  try {
    const credsPath = join(root, 'node.creds');
    // A parseable credentials file (the renewal reads the seed before it asks).
    await writeFile(credsPath, formatCreds('e30.e30.sig', new TextDecoder().decode(createUser().getSeed())));
    const clock = new FakeClock();
    const lines: [string, string][] = [];
    const renewal = new CredentialRenewal({
      identity: { nodeId: 'n1', credsPath, trustStorePath: join(root, 'trust.json') },
      clock,
      scheduler: clock,
      random: () => 0.5,
      log: (level, _label, msg) => lines.push([level, msg]),
      onRenewed: () => undefined,
    });
    let answer: Error = new Error('request failed', {
      cause: natsErrors.PermissionViolationError.parse(
        `'Permissions Violation for Publish to "lf.renew.n1"'`,
      ),
    });
    const nc = {
      subscribe: () => ({ unsubscribe: () => undefined }),
      request: () => Promise.reject(answer),
    } as unknown as NatsConnection;
    renewal.attach(nc);
    assert.equal(await renewal.renewNow(), false);
    const now = clock.wallMs();
    const denied = renewal.status();
    // The credentials never expire here: the longest retry (30 min), not the 30 s backoff.
    assert.equal((denied.renewAt ?? 0) - now, 30 * 60_000 + 1);
    assert.equal(lines.length, 1);
    assert.equal(lines[0]?.[0], 'error');
    assert.match(
      lines[0]?.[1] ?? '',
      /^NATS denied the credential renewal on lf\.renew\.n1 to node n1's credentials \(.*node\.creds\) \(.*Permissions Violation.*\): a person must act/,
    );
    // No answer (the controller is down): the usual backoff, said as before.
    answer = new natsErrors.TimeoutError();
    assert.equal(await renewal.renewNow(), false);
    const retry = (renewal.status().renewAt ?? 0) - clock.wallMs();
    assert.ok(retry < 5 * 60_000, `${retry} ms`);
    assert.equal(lines[1]?.[0], 'warn');
    assert.match(lines[1]?.[1] ?? '', /^credential renewal failed \(2\)/);
    renewal.stop();
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('credentials without expiry renew when the controller asks (a key rotation), once, with no timer spinning', async () => {
  const root = await mkdtemp(join(tmpdir(), 'lf-renew-nudge-'));
  try {
    const credsPath = join(root, 'node.creds');
    // A JWT without expiry (as nodes enrolled before credentials expired hold); only its claims are read.
    const user = createUser();
    const claims = Buffer.from(JSON.stringify({ sub: user.getPublicKey(), iss: 'A', iat: 1 })).toString(
      'base64url',
    );
    await writeFile(credsPath, formatCreds(`e30.${claims}.sig`, new TextDecoder().decode(user.getSeed())));
    const clock = new FakeClock();
    let arms = 0;
    const scheduler = {
      after: (ms: number, fn: () => void) => {
        if (++arms > 100) throw new Error('the renewal timer re-arms itself without end');
        return clock.after(ms, fn);
      },
    };
    const renewal = new CredentialRenewal({
      identity: { nodeId: 'n1', credsPath, trustStorePath: join(root, 'trust.json') },
      clock,
      scheduler,
      random: () => 0.5,
      log: () => undefined,
      onRenewed: () => undefined,
    });
    await renewal.start();
    let nudge: ((err: Error | null, m: { data: Uint8Array; respond: () => boolean }) => void) | undefined;
    const requests: string[] = [];
    const nc = {
      subscribe: (_s: string, o: { callback: typeof nudge }) => {
        nudge = o.callback;
        return { unsubscribe: () => undefined };
      },
      request: (subject: string) => {
        requests.push(subject);
        return Promise.reject(new natsErrors.TimeoutError());
      },
    } as unknown as NatsConnection;
    renewal.attach(nc);
    assert.equal(renewal.state(), 'no-expiry');
    assert.deepEqual(requests, [], 'nothing to renew unasked');
    nudge?.(null, { data: new TextEncoder().encode('{"withinMs":0}'), respond: () => true });
    clock.advance(0);
    // The renewal reads the credentials file before it asks.
    for (let i = 0; i < 100 && requests.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(requests, ['lf.renew.n1'], 'asked: renewed');
    clock.advance(1000);
    assert.ok(arms < 10, `${arms} timers armed`);
    renewal.stop();
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
