/**
 * The agent's fleet link against a real nats-server in operator mode, a real supervisor and
 * tiny /bin/sh jobs: enrolment, signed bundles loaded / updated in place / unloaded, the
 * status snapshot in KV, refusals that leave running jobs untouched, drift repair, malformed
 * input on every subject the node listens to, and the event policy for a crash-looping job.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildXmlPlist } from '@launchfleet/shared';
import { createHash } from 'node:crypto';
import { decodeNodeStatus, keys, subjects } from '@launchfleet/shared/messages';
import { managedPath } from '@launchfleet/node-agent/link';
import { type ControlPlaneHarness, startControlPlane } from '../support/control-plane.ts';
import {
  type LinkNode,
  alive,
  daemonPlist,
  eventually,
  execedEnviron,
  newPid,
  startLinkNode,
} from '../support/link-node.ts';
import { EventLog, nodeStatus, putJob, signedRaw } from '../support/link-fleet.ts';

const label = 'com.acme.backup';
/** A bundle-shaped value that no signer would produce (its plist exceeds the cap). */
const signedRawUnchecked = (nodeId: string, l: string, plist: string): string =>
  JSON.stringify({
    v: 1,
    kind: 'job-bundle',
    bundle: {
      label: l,
      domain: 'system',
      plist,
      version: 1,
      issuedAt: 1,
      expiresAt: 2,
      keyId: 'k-0000000000000000',
      nodeId,
    },
    sig: { alg: 'ed25519', keyId: 'k-0000000000000000', value: 'A'.repeat(86) },
  });
const sha = (s: string | Uint8Array): string => createHash('sha256').update(s).digest('hex');

describe('fleet link: desired state, reporting, drift', () => {
  let cp: ControlPlaneHarness;
  let node: LinkNode;
  let events: EventLog;
  let nodeId: string;
  let pid1: number;
  let pid2: number;
  let rawV1: string;

  before(async () => {
    cp = await startControlPlane();
    events = new EventLog(cp.nc);
    const { token } = await cp.enrollment.createToken({ ttlMs: 60_000 });
    node = await startLinkNode({
      urls: cp.urls,
      token,
      enrollCreds: cp.enrollCreds,
      // Job-activity summaries every 3 s instead of every minute, so a test can wait for them.
      settings: { events: { summaryMs: 3000 } },
    });
  });

  after(async () => {
    await node?.close();
    await cp?.close();
  });

  test('first start enrols with the bootstrap token and connects as the node', async () => {
    await eventually(() => node.link.status().connected, 15_000, 'connected');
    nodeId = node.link.status().nodeId ?? '';
    assert.match(nodeId, /^n[a-z2-7]{20}$/);
    assert.equal((await stat(`${node.stateDir}/node.creds`)).mode & 0o777, 0o600);
    // Inventory and heartbeats arrive.
    const inv = await eventually(
      async () => (await cp.store.nodes.get(keys.nodeInventory(nodeId))) ?? undefined,
      10_000,
      'inventory',
    );
    assert.match(inv.string(), /"arch"/);
    const hb = await new Promise<string>((resolve) => {
      const sub = cp.nc.subscribe(subjects.heartbeat(nodeId), {
        max: 1,
        callback: (_e, m) => resolve(m.subject),
      });
      void sub;
    });
    assert.equal(hb, subjects.heartbeat(nodeId));
  });

  test('a signed bundle is loaded and running; the status snapshot in KV shows it', async (t) => {
    const t0 = Date.now();
    rawV1 = (await putJob(cp, nodeId, { label, version: 1, plist: daemonPlist(label) })).raw;
    pid1 = await eventually(() => node.job(label)?.pid, 10_000, 'job running');
    const applyMs = Date.now() - t0;
    t.diagnostic(`put -> running in ${applyMs} ms`);
    assert.ok(alive(pid1));
    assert.ok(applyMs < 5000, `applied in ${applyMs} ms (a watch push, not polling)`);
    // The managed plist: under the state dir, token-encoded, root-owned 0644, the bundle's text.
    const path = managedPath(node.stateDir, 'system', label);
    assert.ok(path.endsWith('/managed/system/com_2Eacme_2Ebackup.plist'), path);
    const st = await stat(path);
    assert.equal(st.mode & 0o777, 0o644);
    assert.equal(st.uid, 0);
    assert.equal(await readFile(path, 'utf8'), daemonPlist(label));
    assert.equal(node.job(label)?.path, path, 'the supervisor knows the job is managed (its path)');
    const s = await eventually(
      async () => {
        const st = await nodeStatus(cp, nodeId);
        return st?.jobs[label]?.subState === 'running' && st.details?.[label]?.pid === pid1 ? st : undefined;
      },
      10_000,
      'status snapshot shows the job running',
    );
    assert.equal(s.versions[label], '1');
    assert.equal(s.details?.[label]?.managedVersion, 1);
    assert.equal(s.details?.[label]?.domain, 'system');
    assert.deepEqual(s.jobs[label], { subState: 'running', active: 'active', result: 'success' });
    assert.equal(s.health, 'ok');
    assert.deepEqual(s.domains, ['system']);
    assert.ok(JSON.stringify(s).length < 4096, 'the snapshot is small');
    // One event for the load, carrying the state the job settled in (no separate job-state).
    await eventually(() => events.of(nodeId, 'job-loaded', label).length === 1, 10_000, 'job-loaded event');
    assert.deepEqual(events.of(nodeId, 'job-loaded', label)[0]?.jobState, {
      subState: 'running',
      active: 'active',
      result: 'success',
    });
    assert.deepEqual(
      events.of(nodeId, 'job-state', label).filter((e) => e.version === 1),
      [],
      'no job-state event for the version its job-loaded already settled',
    );
  });

  test('the same state twice does nothing (idempotent)', async () => {
    const passes = node.link.status().reconcilePasses;
    // The identical bundle again (a new KV revision, same bytes): nothing happens.
    await cp.store.desired.put(keys.desired(nodeId, label), rawV1);
    // Watch entries arrive in order: once the next job runs, the re-put was seen.
    await putJob(cp, nodeId, { label: 'com.acme.noop', version: 1, plist: daemonPlist('com.acme.noop') });
    await eventually(() => node.job('com.acme.noop')?.pid, 10_000, 'second job running');
    await node.link.idle();
    assert.ok(node.link.status().reconcilePasses > passes);
    assert.equal(node.job(label)?.pid, pid1, 'an unrelated change leaves the job alone');
    assert.equal(events.of(nodeId, 'job-loaded', label).length, 1);
    // The job loaded, so its job-loaded (which names the version) says the acceptance too.
    assert.equal(events.of(nodeId, 'bundle-accepted', label).length, 0);
    assert.equal(events.of(nodeId, 'bundle-refused', label).length, 0);
    await cp.store.desired.delete(keys.desired(nodeId, 'com.acme.noop'));
    await eventually(() => node.job('com.acme.noop') === undefined, 10_000, 'second job unloaded');
  });

  test('a new version is updated in place: the old process stops, the new spec runs', async () => {
    const plist2 = daemonPlist(label, { EnvironmentVariables: { LF_VERSION: '2' } });
    await putJob(cp, nodeId, { label, version: 2, plist: plist2 });
    pid2 = await newPid(node, label, pid1, 10_000, 'new process');
    await eventually(() => !alive(pid1), 10_000, 'old process gone');
    assert.match(await execedEnviron(pid2), /LF_VERSION=2/);
    assert.equal(await readFile(managedPath(node.stateDir, 'system', label), 'utf8'), plist2);
    await eventually(
      async () => (await nodeStatus(cp, nodeId))?.versions[label] === '2',
      10_000,
      'status v2',
    );
    const loaded = await eventually(
      () => events.of(nodeId, 'job-loaded', label).find((e) => e.version === 2),
      10_000,
      'job-loaded v2',
    );
    assert.equal(loaded.reason, 'updated');
    assert.equal(loaded.jobState?.subState, 'running');
    assert.deepEqual(
      events.of(nodeId, 'job-state', label).filter((e) => e.version === 2),
      [],
      'the update is one event',
    );
  });

  test('tampered, expired, older, replayed and garbage bundles are refused; the job keeps running', async () => {
    const now = Date.now();
    const key = keys.desired(nodeId, label);
    const base = { label, domain: 'system', nodeId, issuedAt: now, expiresAt: now + 3600_000 };
    // Tampered: a valid v3 whose plist was changed after signing.
    const v3 = JSON.parse(signedRaw(cp, { ...base, version: 3, plist: daemonPlist(label) })) as {
      bundle: { plist: string };
    };
    v3.bundle.plist = daemonPlist(label, {}, 'exec sleep 301');
    const cases: [string, string][] = [
      ['bad-signature', JSON.stringify(v3)],
      [
        'expired',
        signedRaw(cp, {
          ...base,
          version: 4,
          plist: daemonPlist(label),
          issuedAt: now - 7200_000,
          expiresAt: now - 3600_000,
        }),
      ],
      ['replayed', rawV1],
      [
        'older-version',
        signedRaw(cp, { ...base, version: 1, plist: daemonPlist(label, {}, 'exec sleep 302') }),
      ],
      ['malformed', '{"v":1,"kind":"job-bundle","bundle":{}}'],
      [
        'unsigned',
        JSON.stringify({
          v: 1,
          kind: 'job-bundle',
          bundle: { ...base, version: 5, plist: 'x', keyId: cp.keyStore.activeSigningKey().keyId },
        }),
      ],
      [
        'wrong-node',
        signedRaw(cp, { ...base, version: 6, plist: daemonPlist(label), nodeId: 'naaaaaaaaaaaaaaaaaaaa' }),
      ],
    ];
    for (const [reason, raw] of cases) {
      await cp.store.desired.put(key, raw);
      await eventually(
        () =>
          events.of(nodeId, 'bundle-refused', label).some((e) => e.reason === reason) ||
          events.of(nodeId, 'bundle-refused').some((e) => e.reason === reason),
        10_000,
        `refusal ${reason}`,
      );
    }
    await node.link.idle();
    assert.equal(node.job(label)?.pid, pid2, 'the running job was not touched');
    assert.ok(alive(pid2));
    const refusals = node.link.status().refusals;
    for (const [reason] of cases)
      assert.ok((refusals[reason] ?? 0) >= 1, `counted ${reason}: ${JSON.stringify(refusals)}`);
    // A valid v7 with v2's plist (a re-signature): taken as the running version, the process
    // left alone (reconcile-plan.ts, "adopt").
    await putJob(cp, nodeId, {
      label,
      version: 7,
      plist: daemonPlist(label, { EnvironmentVariables: { LF_VERSION: '2' } }),
    });
    await eventually(
      () => events.of(nodeId, 'job-loaded', label).some((e) => e.version === 7 && e.reason === 'unchanged'),
      10_000,
      'v7 adopted',
    );
    assert.equal(node.job(label)?.pid, pid2, 'the same plist under a new version keeps the process');
    const s = await eventually(
      async () => {
        const st = await nodeStatus(cp, nodeId);
        return st?.versions[label] === '7' ? st : undefined;
      },
      10_000,
      'status v7',
    );
    assert.ok((s.counters?.signatureRefusals?.['bad-signature'] ?? 0) >= 1);
  });

  test('drift: an edited managed plist is restored and reported; the job keeps running', async () => {
    const path = managedPath(node.stateDir, 'system', label);
    const good = await readFile(path, 'utf8');
    await writeFile(path, daemonPlist(label, {}, 'exec sleep 999'));
    await eventually(
      () => events.of(nodeId, 'drift', label).some((e) => e.reason === 'plist-changed'),
      8000,
      'drift plist-changed event',
    );
    await eventually(async () => sha(await readFile(path)) === sha(good), 10_000, 'file restored');
    assert.equal(node.job(label)?.pid, pid2);
    assert.ok(node.link.status().drift['plist-changed']! >= 1);
  });

  test('drift: a managed job booted out by hand is loaded again and reported', async () => {
    const r = await node.system().bootout(label, { wait: true });
    assert.ok(r.ok);
    await eventually(
      () => events.of(nodeId, 'drift', label).some((e) => e.reason === 'job-unloaded'),
      8000,
      'drift job-unloaded event',
    );
    const pid = await eventually(() => node.job(label)?.pid, 10_000, 'job running again');
    assert.notEqual(pid, pid2);
    pid2 = pid;
    assert.equal(node.link.status().drift['job-unloaded'], 1);
  });

  test('drift: a managed job disabled by hand is enabled again', async () => {
    const r = await node.system().disable(label);
    assert.ok(r.ok);
    await eventually(
      () => events.of(nodeId, 'drift', label).some((e) => e.reason === 'job-disabled'),
      8000,
      'drift job-disabled event',
    );
    assert.equal(node.job(label)?.disabled, false);
  });

  test('malformed and oversized input on every subject the node listens to: refused, reported, nothing crashes', async () => {
    const before = events.of(nodeId, 'message-refused').length;
    // Desired state under a key that is not a label token.
    await cp.store.desired.put(`${nodeId}.not_token`, 'x');
    // A bundle whose plist is bigger than any plist may be (the bucket itself caps values at 512 KiB).
    await cp.store.desired.put(
      keys.desired(nodeId, 'com.acme.big'),
      signedRawUnchecked(nodeId, 'com.acme.big', 'x'.repeat(300 * 1024)),
    );
    // A trust store that is garbage.
    await cp.store.trust.put(keys.trustStore, '{"not":"a trust store"}');
    // Live queries: unknown, oversized, and a good one that still answers.
    await assert.rejects(
      cp.nc.request(subjects.query(nodeId, 'bogus'), 'x', { timeout: 2000 }).then((m) => {
        throw new Error(m.string());
      }),
      /unknown-query/,
    );
    await assert.rejects(
      cp.nc
        .request(subjects.query(nodeId, 'status'), new Uint8Array(70 * 1024), { timeout: 2000 })
        .then((m) => {
          throw new Error(m.string());
        }),
      /oversized/,
    );
    const reply = await cp.nc.request(subjects.query(nodeId, 'status'), '', { timeout: 2000 });
    const s = decodeNodeStatus(reply.data);
    assert.ok(s.ok && s.value.jobs[label]?.subState === 'running');
    await eventually(
      () => events.of(nodeId, 'message-refused').length >= before + 3,
      10_000,
      'message-refused events',
    );
    await eventually(() => events.of(nodeId, 'trust-refused').length >= 1, 10_000, 'trust-refused event');
    await eventually(
      () => events.of(nodeId, 'bundle-refused', 'com.acme.big').some((e) => e.reason === 'malformed'),
      10_000,
      'oversized plist refused',
    );
    assert.deepEqual(events.undecodable, []);
    assert.ok(
      node.logs.some((l) => l.includes('message-refused: bad-key')),
      'refusals are logged on the node too',
    );
    assert.ok(alive(pid2));
    // The link still works: a new job applies.
    await putJob(cp, nodeId, { label: 'com.acme.after', version: 1, plist: daemonPlist('com.acme.after') });
    await eventually(() => node.job('com.acme.after')?.pid, 10_000, 'a job after bad input');
    // Stray keys and the garbage store are the controller's to clean up.
    await cp.store.desired.delete(`${nodeId}.not_token`);
    await cp.store.desired.delete(keys.desired(nodeId, 'com.acme.big'));
  });

  test('a deleted desired job is unloaded and its managed file removed', async () => {
    await cp.store.desired.delete(keys.desired(nodeId, 'com.acme.after'));
    await cp.store.desired.delete(keys.desired(nodeId, label));
    await eventually(
      () => node.job(label) === undefined && node.job('com.acme.after') === undefined,
      10_000,
      'unloaded',
    );
    assert.ok(!alive(pid2));
    await eventually(
      () =>
        stat(managedPath(node.stateDir, 'system', label)).then(
          () => false,
          (e: NodeJS.ErrnoException) => e.code === 'ENOENT',
        ),
      10_000,
      'managed file removed',
    );
    await eventually(
      () => events.of(nodeId, 'job-unloaded', label).length === 1,
      10_000,
      'job-unloaded event',
    );
    await eventually(
      async () => (await nodeStatus(cp, nodeId))?.jobs[label] === undefined,
      10_000,
      'gone from status',
    );
  });

  test('a run that ended badly reaches the fleet as what it is: exited, failed, with its result', async () => {
    const report = 'com.acme.report';
    await putJob(cp, nodeId, {
      label: report,
      version: 1,
      plist: daemonPlist(report, { KeepAlive: false }, 'exit 3'),
    });
    const st = await eventually(
      async () => {
        const s = await nodeStatus(cp, nodeId);
        return s?.details?.[report]?.runs === 1 ? s : undefined;
      },
      10_000,
      'the run is reported',
    );
    assert.deepEqual(st.jobs[report], { subState: 'exited', active: 'failed', result: 'exit-code' });
    // The state events: a job-state, or (the run ended within the load's settle second) the
    // job-loaded that carries the state the job settled in.
    const lastState = () =>
      events
        .of(nodeId, undefined, report)
        .filter((e) => (e.kind === 'job-state' || e.kind === 'job-loaded') && e.jobState !== undefined)
        .at(-1)?.jobState;
    await eventually(() => lastState()?.subState === 'exited', 10_000, 'state event: exited');
    assert.deepEqual(lastState(), { subState: 'exited', active: 'failed', result: 'exit-code' });
    await cp.store.desired.delete(keys.desired(nodeId, report));
    await eventually(() => node.job(report) === undefined, 10_000, 'unloaded');
  });

  test('a crash-looping job does not flood events: its transitions and a summary of its repeats', async () => {
    const flap = 'com.acme.flap';
    const before = node.link.status().reporter;
    await putJob(cp, nodeId, {
      label: flap,
      version: 1,
      plist: daemonPlist(flap, { ThrottleInterval: 0 }, 'sleep 0.05; exit 3'),
    });
    const t0 = Date.now();
    await eventually(() => (node.job(flap)?.runs ?? 0) >= 30, 15_000, 'the job flapped 30 times');
    const runs = node.job(flap)?.runs ?? 0;
    const st = await eventually(
      async () => {
        const s = await nodeStatus(cp, nodeId);
        return s?.details?.[flap]?.crashLooping === true ? s : undefined;
      },
      10_000,
      'status says crash-looping',
    );
    assert.equal(st.health, 'failing');
    assert.equal(st.details?.[flap]?.lastExitStatus, 3);
    // Its repeats arrive as summaries, counting the failed exits (every one of them, once).
    await eventually(
      () => events.of(nodeId, 'job-activity', flap).some((e) => (e.counts?.failed ?? 0) > 0),
      10_000,
      'a job-activity summary',
    );
    const runsAtDelete = node.job(flap)?.runs ?? 0;
    await cp.store.desired.delete(keys.desired(nodeId, flap));
    await eventually(() => node.job(flap) === undefined, 10_000, 'flapping job unloaded');
    await eventually(() => events.of(nodeId, 'job-unloaded', flap).length > 0, 10_000, 'unloaded event');
    const finalRuns = runs;
    const after = node.link.status().reporter;
    // Its transitions: it appeared, it started crash-looping (and, with ThrottleInterval 0, was
    // never throttled): a few events for 30+ runs, where one per restart used to be published.
    const transitions = events.of(nodeId, 'job-state', flap);
    assert.ok(
      transitions.length <= 4,
      `${transitions.length} job-state events for ${finalRuns} runs in ${Date.now() - t0} ms: ${transitions.map((e) => e.reason).join(', ')}`,
    );
    assert.ok(
      transitions.some((e) => e.detail?.includes('crash-looping')),
      'entering the crash loop is a transition',
    );
    // Every failed exit is in a summary once its window is over (3 s here).
    const failedSummarised = (): number =>
      events.of(nodeId, 'job-activity', flap).reduce((a, e) => a + (e.counts?.failed ?? 0), 0);
    await eventually(() => failedSummarised() >= runs - 2, 10_000, 'the last summary');
    // Never more failed exits than runs: the runs the supervisor last reported before the unload
    // (on a loaded machine the job can start several more times while the delete travels).
    const runsAtUnload = node.lastReported(flap)?.runs ?? 0;
    assert.ok(runsAtUnload >= runsAtDelete, `${runsAtUnload} runs at the unload, ${runsAtDelete} before`);
    assert.ok(
      failedSummarised() <= runsAtUnload,
      `${failedSummarised()} failed exits for ${runsAtUnload} runs`,
    );
    assert.ok(after.jobActivityEvents > before.jobActivityEvents);
  });

  test('gui/* jobs follow sessions: loaded into a session that opens later, forgotten when it ends', async () => {
    const agent = 'com.acme.agent';
    await putJob(cp, nodeId, { label: agent, version: 1, domain: 'gui/*', plist: daemonPlist(agent) });
    await eventually(() => events.of(nodeId, 'bundle-accepted', agent).length === 1, 10_000, 'accepted');
    await node.link.idle();
    assert.equal(node.job(agent), undefined, 'no gui session yet: nothing runs');
    const opened = await node.manager.openSession(0, 'gui');
    assert.ok(opened.ok);
    const gui = opened.value.domain;
    const pid = await eventually(
      () => {
        const r = gui.print(agent);
        return r.ok ? r.value.pid : undefined;
      },
      10_000,
      'agent running in gui/0',
    );
    const path = managedPath(node.stateDir, 'gui/0', agent);
    assert.ok(path.includes('/managed/gui_2F0/'), path);
    const printed = gui.print(agent);
    assert.ok(printed.ok);
    assert.equal(printed.value.path, path);
    await node.manager.closeSession(0, 'gui');
    assert.ok(!alive(pid));
    await eventually(
      async () => {
        try {
          await stat(path);
          return false;
        } catch {
          return true;
        }
      },
      10_000,
      'the stale managed file of the ended session is removed',
    );
    assert.equal(events.of(nodeId, 'drift', agent).length, 0, 'a session ending is not drift');
    await cp.store.desired.delete(keys.desired(nodeId, agent));
  });

  test('a bundle that cannot be loaded is reported and the running version keeps running; a local job is never touched', async () => {
    const web = 'com.acme.web';
    await putJob(cp, nodeId, { label: web, version: 1, plist: daemonPlist(web) });
    const pid = await eventually(() => node.job(web)?.pid, 10_000, 'web v1 running');
    // v2 is correctly signed, but its plist names no program.
    await putJob(cp, nodeId, {
      label: web,
      version: 2,
      plist: buildXmlPlist({ Label: web, RunAtLoad: true }),
    });
    await eventually(
      () =>
        events.of(nodeId, 'load-failed', web).some((e) => e.reason === 'invalid-plist' && e.version === 2),
      10_000,
      'load-failed event',
    );
    await node.link.idle();
    assert.equal(node.job(web)?.pid, pid);
    assert.ok(alive(pid));
    const st = await eventually(
      async () => {
        const s = await nodeStatus(cp, nodeId);
        return s?.details?.[web]?.loadFailed === true ? s : undefined;
      },
      10_000,
      'status shows the load failure',
    );
    assert.equal(st.details?.[web]?.reason, 'invalid-plist');
    assert.equal(st.health, 'failing');
    // v1 still runs: its state is the running one; the detail says v2 did not load.
    assert.equal(st.jobs[web]?.subState, 'running');

    // A job loaded from a local plist holds a label the controller then asks for.
    const local = 'com.acme.local';
    const dir = await mkdtemp(join(tmpdir(), 'lf-local-'));
    try {
      const file = join(dir, `${local}.plist`);
      await writeFile(file, daemonPlist(local), { mode: 0o644 });
      const report = await node.system().bootstrapPaths([file], { requesterUid: 0 });
      assert.deepEqual(report.loaded, [local]);
      const localPid = await eventually(() => node.job(local)?.pid, 10_000, 'local job running');
      await putJob(cp, nodeId, { label: local, version: 1, plist: daemonPlist(local, {}, 'exec sleep 303') });
      await eventually(
        () => events.of(nodeId, 'load-failed', local).some((e) => e.reason === 'label-conflict'),
        10_000,
        'label-conflict reported',
      );
      await cp.store.desired.delete(keys.desired(nodeId, local));
      await cp.store.desired.delete(keys.desired(nodeId, web));
      await eventually(() => node.job(web) === undefined, 10_000, 'web unloaded');
      await node.link.idle();
      assert.equal(node.job(local)?.pid, localPid, 'the local job was never touched');
      assert.equal(node.job(local)?.path, file);
      await node.system().bootout(local, { wait: true });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
