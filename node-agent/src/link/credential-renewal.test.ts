import { test } from 'node:test';
import assert from 'node:assert/strict';
import { utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FakeClock, withTempDir } from '@launchfleet/shared/testing';
import { createUser } from '@nats-io/nkeys';
import { errors as natsErrors } from '@nats-io/nats-core';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  CredentialRenewal,
  type CredentialRenewalOptions,
  type ReenrolOutcome,
} from './credential-renewal.ts';
import { formatCreds } from './credentials.ts';
import { publishDenied } from '../testing/fake-nats.ts';

/** Node n1's renewal, its files in `dir` (credentials at `node.creds`); `o` replaces any option. */
function renewalIn(
  dir: string,
  clock: FakeClock,
  o: Partial<CredentialRenewalOptions> = {},
): CredentialRenewal {
  return new CredentialRenewal({
    identity: { nodeId: 'n1', credsPath: join(dir, 'node.creds'), trustStorePath: join(dir, 'trust.json') },
    clock,
    scheduler: clock,
    random: () => 0.5,
    log: () => undefined,
    onRenewed: () => undefined,
    ...o,
  });
}

/**
 * Writes parseable credentials to `dir`/node.creds: a new user's seed and a JWT of which only the
 * claims are read (`claims(the user's public key)`, or none: `e30.e30.sig`).
 */
async function writeCreds(dir: string, claims?: (sub: string) => object): Promise<void> {
  const user = createUser();
  const body = Buffer.from(JSON.stringify(claims?.(user.getPublicKey()) ?? {})).toString('base64url');
  await writeFile(
    join(dir, 'node.creds'),
    formatCreds(`e30.${body}.sig`, new TextDecoder().decode(user.getSeed())),
  );
}

test('re-enrolment of expired credentials: only a refusal waits for a new token; an unreachable controller is retried', () =>
  withTempDir('lf-reenrol-', async (root) => {
    const tokenFile = join(root, 'bootstrap.token');
    await writeFile(tokenFile, 'lfbt_used\n');
    const clock = new FakeClock();
    const renewal = renewalIn(root, clock);
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
  }));

test('a renewal NATS denies waits the longest retry, and says so naming the subject and the credential; no answer backs off from 30 s', () =>
  withTempDir('lf-renew-denied-', async (root) => {
    // A parseable credentials file (the renewal reads the seed before it asks).
    await writeCreds(root);
    const clock = new FakeClock();
    const lines: [string, string][] = [];
    const renewal = renewalIn(root, clock, { log: (level, _label, msg) => lines.push([level, msg]) });
    let answer: Error = new Error('request failed', { cause: publishDenied('lf.renew.n1') });
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
  }));

test('credentials without expiry renew when the controller asks (a key rotation), once, with no timer spinning', () =>
  withTempDir('lf-renew-nudge-', async (root) => {
    // A JWT without expiry (as nodes enrolled before credentials expired hold); only its claims are read.
    await writeCreds(root, (sub) => ({ sub, iss: 'A', iat: 1 }));
    const clock = new FakeClock();
    let arms = 0;
    const scheduler = {
      after: (ms: number, fn: () => void) => {
        if (++arms > 100) throw new Error('the renewal timer re-arms itself without end');
        return clock.after(ms, fn);
      },
    };
    const renewal = renewalIn(root, clock, { scheduler });
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
  }));
