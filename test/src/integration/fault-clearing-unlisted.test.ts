/**
 * The fault suite (docs/fault-suite.md): a retarget whose nodes to clear do not fit in the job
 * record beside its target, on a real nats-server whose max_payload is 64 KiB (the default is
 * 1 MiB: the same happens there at about 22,000 + 22,000 nodes).
 *
 * Real: one nats-server (`max_payload: 65536`), a controller (its gRPC API and CLI read the job
 * record), and the controller's apply code (DesiredStateService, in this process, over a
 * connection with the controller's credentials) targeting 3,000 simulated nodes that exist only
 * as node ids: groups `a` and `b` of 1,500 each. One group's 1,500 ids fill 36 KB of the record;
 * both groups (the target and the nodes to clear) would be 72 KB.
 *
 * Promised and checked:
 * - a retarget from group a to group b: the version is written saying its nodes to clear are too
 *   many to name (`clearingUnlisted`, seen in the record's history), the apply finds them by
 *   listing the label's keys and deletes them all; afterwards only group b holds a key and the
 *   record names nothing to clear (before 2026-12-07 the record did not fit and the retarget
 *   failed with `max_payload size exceeded`: the job could not be moved at all);
 * - the retarget back to group a with the server stopped (SIGSTOP) in the middle of its deletes:
 *   it returns naming the nodes it did not clear; GetJob (gRPC), `launchfleet jobs get` and the
 *   web console's job page (in a real Chromium, signed in as a viewer) say that nodes may still
 *   hold the job; the same apply retried until clean deletes the rest; then only group a holds a
 *   key and GetJob and the console's page show nothing to clear.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type KV, Kvm } from '@nats-io/kv';
import { type NatsConnection, connect, credsAuthenticator } from '@nats-io/transport-node';
import { systemClock } from '@launchfleet/shared';
import { buckets, keys, nodeIdFromRandom } from '@launchfleet/shared/messages';
import type { RunningController } from '@launchfleet/controller';
import { DesiredStateService, trackBrokerConnection } from '@launchfleet/controller/desired';
import { KeyStore, provisionControlPlane } from '@launchfleet/controller/identity';
import type { Page } from 'playwright-core';
import { type BrowserSession, openBrowser } from '../support/browser.ts';
import { ControllerFleet, RawApi, jobPlist } from '../support/controller-fleet.ts';
import { eventually } from '../support/link-node.ts';
import { repoRoot } from '../support/paths.ts';

const perGroup = 1500;
const maxPayload = 65_536;
/** Desired-key messages seen on the broker (the target's writes, then the deletes) before the server is stopped. */
const stopAfter = perGroup + 200;
const label = 'com.acme.unlisted';
const cli = join(repoRoot, 'controller/bin/launchfleet.js');
const run = promisify(execFile);
const log = (s: string): void =>
  console.log(`[fault-clearing-unlisted ${process.uptime().toFixed(1)} s] ${s}`);

const groupA = Array.from({ length: perGroup }, () => nodeIdFromRandom(randomBytes(13)));
const groupB = Array.from({ length: perGroup }, () => nodeIdFromRandom(randomBytes(13)));
const toGroup = (g: 'a' | 'b') => ({
  plist: jobPlist(label),
  domain: 'system',
  target: { kind: 'selector' as const, selector: `group=${g}` },
  by: 'otto',
});

describe('fault: nodes to clear too many for the job record (a small max_payload)', () => {
  let fleet: ControllerFleet;
  let c1: RunningController;
  let api: RawApi;
  let nc: NatsConnection;
  let jobs: KV;
  let desired: DesiredStateService;
  let desiredKv: KV;
  let browser: BrowserSession | undefined;

  before(async () => {
    // TLS: the console serves only HTTPS (controller-config.ts).
    fleet = await ControllerFleet.start({ serverConfig: `max_payload: ${maxPayload}`, tls: true });
    c1 = await fleet.startController('ctl-1', { consoleListen: { host: '127.0.0.1', port: 0 } });
    api = new RawApi(c1.grpcPort, fleet.tls);
    nc = await connect({
      servers: fleet.server.url,
      authenticator: credsAuthenticator(await fleet.identity.controllerCreds()),
      name: 'fault-clearing-unlisted',
    });
    assert.equal(nc.info?.max_payload, maxPayload);
    const store = await provisionControlPlane(nc, { replicas: 1 });
    desiredKv = store.desired;
    // The controller's job-signing key (no agent runs here: only the keys are checked).
    const signing = (await KeyStore.open(join(fleet.dir, 'keys'))).activeSigningKey();
    jobs = await new Kvm(nc).open(buckets.jobs);
    const candidates = [
      ...groupA.map((nodeId) => ({ nodeId, group: 'a' })),
      ...groupB.map((nodeId) => ({ nodeId, group: 'b' })),
    ].map(({ nodeId, group }) => ({
      nodeId,
      hostname: nodeId,
      labels: { group },
      registered: true,
      revoked: false,
    }));
    desired = new DesiredStateService({
      jobs,
      desired: store.desired,
      index: store.desiredIndex,
      brokerConnected: trackBrokerConnection(nc),
      signingKey: () => signing,
      candidates: () => candidates,
      clock: systemClock,
      // As the controller computes it (job-record.ts recordLimit): max_payload less 1 KiB for headers.
      maxRecordBytes: () => (nc.info?.max_payload ?? maxPayload) - 1024,
      // Few writes in flight, so the deletes last long enough to be cut (the controller's default is 256).
      concurrency: 16,
    });
  });

  after(async () => {
    await browser?.close();
    api?.close();
    await nc?.close().catch(() => undefined);
    await fleet?.close();
  });

  const holds = async (ids: readonly string[]): Promise<number> => {
    let n = 0;
    for (const id of ids) {
      const e = await desiredKv.get(keys.desired(id, label));
      if (e && e.operation === 'PUT') n++;
    }
    return n;
  };
  /** Every version of the record lf_jobs still has (history 5), oldest first. */
  const history = async (): Promise<Array<Record<string, unknown>>> => {
    const out: Array<Record<string, unknown>> = [];
    for await (const e of await jobs.history({ key: keys.job(label) }))
      if (e.operation === 'PUT') out.push(JSON.parse(e.string()) as Record<string, unknown>);
    return out;
  };
  const getJob = () => api.call('GetJob', { label }, fleet.tokens.viewer);
  /** The console's page of the job, as a viewer sees it in Chromium (signed in on first use). */
  const jobPage = async (): Promise<Page> => {
    const url = `https://127.0.0.1:${c1.consolePort}/jobs/${encodeURIComponent(label)}`;
    if (!browser) {
      browser = await openBrowser(fleet.tls?.cert ?? '');
      await browser.page.goto(url);
      await browser.page.waitForURL(/\/login/);
      await browser.page.fill('#token', fleet.tokens.viewer);
      await Promise.all([
        browser.page.waitForURL((u) => !u.pathname.startsWith('/login')),
        browser.page.click('button[type=submit]'),
      ]);
    }
    await browser.page.goto(url);
    return browser.page;
  };

  test('a retarget whose nodes to clear do not fit lists them, and clears them all', async () => {
    const v1 = await desired.apply(toGroup('a'));
    assert.deepEqual(v1.failures, [], 'group a written');
    assert.equal(v1.written, perGroup);
    const started = Date.now();
    const v2 = await desired.apply(toGroup('b'));
    log(`retarget a -> b: ${Date.now() - started} ms, written ${v2.written}, removed ${v2.removed}`);
    assert.deepEqual(v2.failures.slice(0, 3), [], 'no failure');
    assert.deepEqual(v2.warnings, []);
    assert.equal(v2.version, v1.version + 1);
    assert.equal(v2.written, perGroup);
    assert.equal(v2.removed, perGroup, 'every node of group a cleared');
    const h = await history();
    const written = h.filter((r) => r['version'] === v2.version);
    assert.equal(
      written[0]?.['clearingUnlisted'],
      true,
      'version 2 was written with its nodes to clear unlisted',
    );
    assert.equal(written[0]?.['clearing'], undefined);
    assert.equal(written.at(-1)?.['clearingUnlisted'], undefined, 'and once cleared, without the mark');
    assert.equal(await holds(groupA), 0);
    assert.equal(await holds(groupB), perGroup);
    const job = await getJob();
    assert.equal(job['clearingCount'], 0);
    assert.equal(job['clearingUnlisted'], false);
  });

  test('the server stopped during the deletes: the API, CLI and console say nodes may still hold the job; the retry clears them', async () => {
    const server = fleet.server;
    let seen = 0;
    let stopped = false;
    // Stopped from the subscription's callback, as the message is seen: a poll would let a local
    // server finish all 1,500 deletes in between.
    const sub = nc.subscribe(`$KV.${buckets.desired}.>`, {
      callback: (_e, m) => {
        if (m.subject.endsWith('._index')) return;
        if (++seen !== stopAfter) return;
        process.kill(server.pid, 'SIGSTOP');
        stopped = true;
      },
    });
    const cont = () => {
      if (stopped) process.kill(server.pid, 'SIGCONT');
      stopped = false;
    };
    try {
      const started = Date.now();
      const running = desired.apply(toGroup('a'));
      await Promise.race([
        eventually(() => stopped, 60_000, 'deletes going out'),
        running.then(() => {
          throw new Error('the apply ended before the server was stopped');
        }),
      ]);
      log(`server stopped after ${seen} desired-key messages`);
      const r = await running;
      log(
        `cut retarget b -> a returned after ${Date.now() - started} ms: written ${r.written}, removed ${r.removed}, ` +
          `${r.failures.length} failed, ${r.notAttempted} not tried`,
      );
      cont();
      assert.ok(r.failures.length > 0, 'the deletes the broker did not answer are named');
      const b = new Set(groupB);
      assert.ok(
        r.failures.every((f) => b.has(f.nodeId)),
        'only nodes no longer targeted failed',
      );
      sub.unsubscribe();
      await nc.flush();
      const job = await getJob();
      log(
        `GetJob: clearing_count ${String(job['clearingCount'])}, clearing_unlisted ${String(job['clearingUnlisted'])}`,
      );
      assert.ok(
        job['clearingUnlisted'] === true || Number(job['clearingCount']) > 0,
        `GetJob shows nodes still to clear: ${JSON.stringify({ ...job, plist: undefined })}`,
      );
      const shown = await run(process.execPath, [cli, 'jobs', 'get', label], {
        env: {
          ...process.env,
          LAUNCHFLEET_SERVER: `127.0.0.1:${c1.grpcPort}`,
          LAUNCHFLEET_TOKEN: fleet.tokens.viewer,
          LAUNCHFLEET_CA: fleet.tls?.caCert ?? '',
        },
        timeout: 20_000,
      });
      log(
        `jobs get: ${shown.stdout.split('\n').find((l) => l.includes('clearing:')) ?? '(no clearing line)'}`,
      );
      assert.match(shown.stdout, /clearing: .*may still hold the job.*retry the apply/);
      // The console's job page says the same (its "Still to clear" fact, job-page.ts clearingFacts).
      const page = await jobPage();
      const fact = (await page.locator('#job-clearing').textContent({ timeout: 10_000 })) ?? '';
      log(`console: Still to clear: ${fact.replace(/\s+/g, ' ').trim().slice(0, 160)}`);
      if (job['clearingUnlisted'] === true)
        assert.match(
          fact,
          /unlisted\s+more nodes than the record can name may still hold the job; retry the apply/,
        );
      else {
        const n = Number(job['clearingCount']);
        const shownN = n.toLocaleString('en-US');
        assert.match(
          fact,
          new RegExp(`${shownN} nodes?\\s+may still hold the job \\(their delete failed\\); retry the apply`),
        );
        assert.equal(await page.locator('#job-clearing a[href^="/nodes/"]').count(), Math.min(n, 20));
      }

      let retries = 0;
      for (;;) {
        retries++;
        const again = await desired.apply(toGroup('a'));
        log(
          `retry ${retries}: version ${again.version}, removed ${again.removed}, ${again.failures.length} failed`,
        );
        assert.equal(again.version, r.version, 'the retry re-delivers the version');
        if (again.failures.length === 0) break;
        assert.ok(retries < 5, `still failing after ${retries} retries: ${again.failures[0]?.reason}`);
      }
      assert.equal(await holds(groupB), 0, 'no node of group b holds the job');
      assert.equal(await holds(groupA), perGroup);
      const after = await getJob();
      assert.equal(after['clearingCount'], 0);
      assert.equal(after['clearingUnlisted'], false);
      const clean = await jobPage();
      await clean.locator('h1', { hasText: label }).waitFor({ timeout: 10_000 });
      assert.equal(await clean.locator('#job-clearing').count(), 0, 'the console shows nothing to clear');
    } finally {
      cont();
      sub.unsubscribe();
    }
  });
});
