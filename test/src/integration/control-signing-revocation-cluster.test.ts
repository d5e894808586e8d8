/**
 * Job-signing key rotation and revocation on a real 3-server cluster (JetStream replicas 3), with
 * two controllers and two real agent links running real jobs, driven by the commands an operator
 * types (`launchfleet-controller keys ...`, the real CLI, on the controllers' key store and
 * config):
 *
 * - rotation: add and activate k2, restart the controllers one after another (each publishes the
 *   trust store at start: agents trust k1 and k2), `keys resign-jobs --config`: every bundle k1
 *   signed becomes a new version k2 signed, with the same plist; every job keeps its process;
 *   `keys retire-signing-key k1`.
 * - revocation of the ACTIVE key (k2 leaked): `keys revoke-signing-key k2 --replacement new
 *   --config`: the trust store is published at once with k2 revoked (and k1 gone), every bundle k2
 *   signed is re-signed with the new k3; no job restarts. A bundle k2 signs afterwards (the
 *   attacker holding it), for a running job or a new one, is refused with a `bundle-refused` /
 *   `revoked-key` event and changes nothing. After the controllers restart the revocation is
 *   still published, they sign with k3, and an agent restart brings every job back from its
 *   stored bundles (none refused).
 *
 * Procedure: controller/src/identity/README.md, "Key rotation" and "Revoking a leaked
 * job-signing key".
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { buckets, decodeNodeStatus, keys as kvKeys } from '@launchfleet/shared/messages';
import {
  type JobBundle,
  type SigningKey,
  encodeSignedBundle,
  loadTrustStoreFile,
  signBundle,
} from '@launchfleet/shared/signing';
import type { RunningController } from '@launchfleet/controller';
import { KeyStore } from '@launchfleet/controller/identity';
import { ControllerFleet, RawApi } from '../support/controller-fleet.ts';
import { type LinkNode, daemonPlist, eventually, newPid, startLinkNode } from '../support/link-node.ts';
import { EventLog } from '../support/link-fleet.ts';

const run = promisify(execFile);
const cli = join(import.meta.dirname, '..', '..', '..', 'controller', 'bin', 'launchfleet-controller.js');
const both = 'com.acme.both';
const solo = 'com.acme.solo';

describe('job-signing key rotation and revocation (3 servers, 2 controllers, 2 agents)', () => {
  let fleet: ControllerFleet;
  const ctl: Record<'a' | 'b', RunningController | undefined> = { a: undefined, b: undefined };
  let nodes: LinkNode[] = [];
  let ids: string[] = [];
  let keysDir: string;
  let configFile: string;
  let nc: NatsConnection;
  let events: EventLog;
  /** Pids by node index and label, taken once the jobs run; no step may change them. */
  const pids = new Map<string, number>();

  const keys = async (...args: string[]): Promise<{ code: number; out: string; err: string }> => {
    try {
      const r = await run(process.execPath, [cli, 'keys', ...args]);
      return { code: 0, out: r.stdout, err: r.stderr };
    } catch (e) {
      const x = e as { code?: number; stdout?: string; stderr?: string };
      return { code: x.code ?? -1, out: x.stdout ?? '', err: x.stderr ?? '' };
    }
  };
  const restart = async (name: 'a' | 'b'): Promise<void> => {
    await ctl[name]?.stop();
    ctl[name] = await fleet.startController(`ctl-${name}-${Date.now()}`);
  };
  const api = (name: 'a' | 'b') => new RawApi(ctl[name]?.grpcPort ?? 0, fleet.tls);
  const apply = async (name: 'a' | 'b', label: string, nodeIds: string[], plist = daemonPlist(label)) =>
    (
      await api(name).call(
        'ApplyJob',
        { plist, target: { nodes: { names: nodeIds } } },
        fleet.tokens.operator,
      )
    )['version'] as number;
  const jobsOf = (i: number): string[] => (i === 0 ? [both, solo] : [both]);
  const assertPids = (what: string): void => {
    for (const [i, n] of nodes.entries())
      for (const l of jobsOf(i))
        assert.equal(n.job(l)?.pid, pids.get(`${i}/${l}`), `${what}: ${l} on node ${i}`);
  };
  const trustOf = async (i: number): Promise<{ keys: string[]; revoked: string[] }> => {
    const t = JSON.parse(await readFile(join(nodes[i]?.stateDir ?? '', 'trust.json'), 'utf8')) as {
      store: { keys: { keyId: string }[]; revoked: string[] };
    };
    return { keys: t.store.keys.map((k) => k.keyId).sort(), revoked: [...t.store.revoked].sort() };
  };
  /** The keys that signed the bundles an agent keeps in its state dir, by label. */
  const storedKeys = async (i: number): Promise<Record<string, string>> => {
    const st = JSON.parse(await readFile(join(nodes[i]?.stateDir ?? '', 'desired.json'), 'utf8')) as {
      jobs: { raw: string }[];
    };
    const out: Record<string, string> = {};
    for (const j of st.jobs) {
      const b = (JSON.parse(j.raw) as { bundle: JobBundle }).bundle;
      out[b.label] = b.keyId;
    }
    return out;
  };
  const allStoredBy = async (keyId: string): Promise<boolean> => {
    for (const i of nodes.keys()) {
      const s = await storedKeys(i);
      if (!jobsOf(i).every((l) => s[l] === keyId)) return false;
    }
    return true;
  };
  const reported = async (i: number, label: string): Promise<string | undefined> => {
    const e = await (await new Kvm(nc).open(buckets.nodes)).get(kvKeys.nodeStatus(ids[i] ?? ''));
    if (!e || e.operation !== 'PUT') return undefined;
    const st = decodeNodeStatus(e.value);
    return st.ok ? st.value.versions[label] : undefined;
  };
  const storedVersion = async (i: number, label: string): Promise<number> => {
    const e = await (await new Kvm(nc).open(buckets.desired)).get(kvKeys.desired(ids[i] ?? '', label));
    assert.ok(e && e.operation === 'PUT');
    return (JSON.parse(e.string()) as { bundle: JobBundle }).bundle.version;
  };
  /** Every node reports the version the desired state holds for each of its jobs. */
  const converged = async (): Promise<boolean> => {
    for (const i of nodes.keys())
      for (const l of jobsOf(i))
        if ((await reported(i, l)) !== String(await storedVersion(i, l))) return false;
    return true;
  };

  before(async () => {
    fleet = await ControllerFleet.start({ cluster: true });
    keysDir = join(fleet.dir, 'keys');
    configFile = (await fleet.config()).file;
    await restart('a');
    await restart('b');
    nc = await connect({
      servers: fleet.servers.map((s) => s.url),
      authenticator: credsAuthenticator(await fleet.identity.controllerCreds()),
      maxReconnectAttempts: -1,
    });
    events = new EventLog(nc);
    const urls = fleet.servers.map((s) => s.url);
    const enrollCreds = await fleet.identity.enrollCreds();
    nodes = await Promise.all(
      [urls, [...urls].reverse()].map(async (u) =>
        startLinkNode({
          urls: u,
          token: (await ctl.a!.app.enrollment.createToken({ ttlMs: 60_000 })).token,
          enrollCreds,
        }),
      ),
    );
    for (const n of nodes) await eventually(() => n.link.status().connected, 15_000, 'connected');
    ids = nodes.map((n) => n.link.identity?.nodeId ?? '');
    await apply('a', both, ids);
    await apply('b', solo, [ids[0] ?? '']);
    for (const [i, n] of nodes.entries())
      for (const l of jobsOf(i))
        pids.set(`${i}/${l}`, await eventually(() => n.job(l)?.pid, 15_000, `${l} runs on node ${i}`));
  });

  after(async () => {
    for (const n of nodes) await n.close();
    await nc?.close();
    await fleet?.close();
  });

  test('rotation: k1 -> k2, the controllers restarted one by one, jobs re-signed without a restart', async () => {
    const k1 = (await KeyStore.open(keysDir)).activeSigningKey().keyId;
    const added = await keys('add-signing-key', '--activate', '--keys', keysDir);
    const k2 = /job-signing key (k-[0-9a-f]{16}) \(active\)/.exec(added.out)?.[1] ?? '';
    assert.ok(k2, added.out + added.err);
    await restart('a');
    await restart('b');
    for (const i of nodes.keys())
      await eventually(
        async () => JSON.stringify((await trustOf(i)).keys) === JSON.stringify([k1, k2].sort()),
        15_000,
        `node ${i} trusts k1 and k2`,
      );
    assertPids('a new trust store restarts no job');

    const r = await keys('resign-jobs', '--config', configFile);
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(
      r.out,
      new RegExp(`re-signed ${both} version 1 \\(${k1}\\) as version \\d+ with ${k2} for 2 nodes`),
    );
    assert.match(
      r.out,
      new RegExp(`re-signed ${solo} version 1 \\(${k1}\\) as version \\d+ with ${k2} for 1 node`),
    );
    await eventually(() => allStoredBy(k2), 15_000, 'every agent holds bundles k2 signed');
    await eventually(converged, 15_000, 'every node reports the re-signed versions');
    assertPids('re-signing restarts no job');
    // Nothing left: a second run has nothing to do.
    const again = await keys('resign-jobs', '--config', configFile);
    assert.equal(again.code, 0, again.out + again.err);
    assert.match(again.out, new RegExp(`every bundle in the desired state is signed by ${k2}`));

    assert.equal((await keys('retire-signing-key', k1, '--keys', keysDir)).code, 0);
  });

  test('revocation of the active key: refused everywhere at once, jobs re-signed, none restarted', async () => {
    const leaked: SigningKey = (await KeyStore.open(keysDir)).activeSigningKey();
    const k2 = leaked.keyId;
    // Bad input first: the active key without a replacement, an unknown key: refused, nothing changes.
    const noRepl = await keys('revoke-signing-key', k2, '--config', configFile);
    assert.equal(noRepl.code, 2);
    assert.match(noRepl.err, /is the active signing key and the only one: name its replacement/);
    const unknown = await keys('revoke-signing-key', 'k-0123456789abcdef', '--config', configFile);
    assert.equal(unknown.code, 2);
    assert.match(unknown.err, /no signing key k-0123456789abcdef/);
    assert.equal((await KeyStore.open(keysDir)).activeSigningKey().keyId, k2);

    const r = await keys('revoke-signing-key', k2, '--replacement', 'new', '--config', configFile);
    assert.equal(r.code, 0, r.out + r.err);
    const k3 = /job-signing key (k-[0-9a-f]{16}) is active/.exec(r.out)?.[1] ?? '';
    assert.ok(k3, r.out);
    assert.match(
      r.out,
      new RegExp(`trusted ${k3}; revoked ${k2} \\(agents refuse every bundle these signed\\)`),
    );
    assert.match(
      r.out,
      new RegExp(`re-signed ${both} version \\d+ \\(${k2}\\) as version \\d+ with ${k3} for 2 nodes`),
    );
    assert.match(r.out, /restart the controllers \(one after another\)/);
    // The file an agent restart reads must load on its own: the store k2 signed (revoking
    // itself) is followed at once by the same content k3 signed, and the file ends with that.
    for (const i of nodes.keys())
      await eventually(
        async () =>
          JSON.stringify(await trustOf(i)) === JSON.stringify({ keys: [k3], revoked: [k2] }) &&
          (await loadTrustStoreFile(join(nodes[i]?.stateDir ?? '', 'trust.json'))).ok,
        15_000,
        `node ${i} trusts only k3 and refuses k2, in a file that loads on its own`,
      );
    await eventually(() => allStoredBy(k3), 15_000, 'every agent holds bundles k3 signed');
    await eventually(converged, 15_000, 'every node reports the re-signed versions');
    assertPids('revoking the key restarts no job');
    // A node enrolling now, with no store before, takes the published store as it stands (the
    // one k2 signed, revoking itself, would not verify on its own).
    const late = await startLinkNode({
      urls: fleet.servers.map((x) => x.url),
      token: (await ctl.a!.app.enrollment.createToken({ ttlMs: 60_000 })).token,
      enrollCreds: await fleet.identity.enrollCreds(),
    });
    try {
      await eventually(() => late.link.status().connected, 15_000, 'a node enrolled after the revocation');
      const t = JSON.parse(await readFile(join(late.stateDir, 'trust.json'), 'utf8')) as {
        store: { keys: { keyId: string }[]; revoked: string[] };
      };
      assert.deepEqual([t.store.keys.map((k) => k.keyId), t.store.revoked], [[k3], [k2]]);
    } finally {
      await late.close();
    }

    // The attacker signs with k2: the same job at a higher version, and a new job. Both refused.
    const seen = events.events.length;
    const desired = await new Kvm(nc).open(buckets.desired);
    const now = Date.now();
    const forged = (nodeId: string, label: string, version: number, plist: string) =>
      encodeSignedBundle(
        signBundle(
          {
            label,
            domain: 'system',
            plist,
            version,
            issuedAt: now,
            expiresAt: now + 3600_000,
            keyId: k2,
            nodeId,
          },
          leaked,
        ),
      );
    const v0 = await storedVersion(0, both);
    await desired.put(
      kvKeys.desired(ids[0] ?? '', both),
      forged(ids[0] ?? '', both, v0 + 1, daemonPlist(both, { EnvironmentVariables: { EVIL: '1' } })),
    );
    await desired.put(
      kvKeys.desired(ids[1] ?? '', 'com.acme.evil'),
      forged(ids[1] ?? '', 'com.acme.evil', 1, daemonPlist('com.acme.evil')),
    );
    for (const [i, label] of [
      [0, both],
      [1, 'com.acme.evil'],
    ] as const)
      await eventually(
        () =>
          events.events
            .slice(seen)
            .some(
              (e) =>
                e.source === ids[i] &&
                e.kind === 'bundle-refused' &&
                e.reason === 'revoked-key' &&
                e.label === label,
            ),
        15_000,
        `node ${i} refuses ${label} signed by the revoked key`,
      );
    await nodes[0]?.link.idle();
    await nodes[1]?.link.idle();
    assert.equal(nodes[1]?.job('com.acme.evil'), undefined, 'the job k2 signed never runs');
    assert.equal(await reported(0, both), String(v0), 'the node still runs the version k3 signed');
    assertPids('refused bundles change no job');
    // A re-sign never launders what the attacker wrote: both are listed, neither is signed.
    const launder = await keys('resign-jobs', '--config', configFile);
    assert.equal(launder.code, 1, launder.out + launder.err);
    assert.match(launder.out, /nothing re-signed\n2 bundle\(s\) still depend on an old key/);
    assert.match(
      launder.out,
      new RegExp(
        `${both} version ${v0 + 1} on node ${ids[0]}, signed by ${k2}: (no job record: )?not in the controller's records`,
      ),
    );
    assert.match(
      launder.out,
      new RegExp(
        `com\\.acme\\.evil version 1 on node ${ids[1]}, signed by ${k2}: (no job record: )?not in the controller's records`,
      ),
    );
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(nodes[1]?.job('com.acme.evil'), undefined, 'still never runs');
    assertPids('a refused re-sign changes no job');
    // The controllers restart (they sign with k3 now; until then they would sign with k2, and
    // agents would refuse it); the revocation stays published. Then the operator puts the job
    // back as it was and removes the attacker's.
    await restart('a');
    await restart('b');
    for (const i of nodes.keys()) assert.deepEqual((await trustOf(i)).revoked, [k2]);
    const back = await apply('a', both, ids);
    await desired.delete(kvKeys.desired(ids[1] ?? '', 'com.acme.evil'));
    await eventually(
      async () => (await reported(0, both)) === String(back),
      15_000,
      `${both} ${back} reported`,
    );
    assertPids('the same plist again restarts no job');
    const changed = await apply(
      'b',
      solo,
      [ids[0] ?? ''],
      daemonPlist(solo, { EnvironmentVariables: { V: '2' } }),
    );
    const soloPid = await newPid(nodes[0]!, solo, pids.get(`0/${solo}`), 15_000, 'the changed job runs anew');
    pids.set(`0/${solo}`, soloPid);
    await eventually(
      async () => (await reported(0, solo)) === String(changed),
      15_000,
      `version ${changed} reported`,
    );
    assert.equal((await storedKeys(0))[solo], k3, 'signed by k3');

    // An agent restart: every job comes back from the bundles it stored, none refused for its key.
    const n1 = nodes[1]!;
    const before = n1.logs.length;
    await n1.restart();
    await eventually(() => n1.link.status().connected, 15_000, 'node 1 is back').catch((e: unknown) => {
      throw new Error(
        `${(e as Error).message}; its log since the restart:\n${n1.logs.slice(before).join('\n')}`,
      );
    });
    await eventually(() => n1.job(both)?.pid, 15_000, `${both} runs again on node 1`);
    const refused = n1.logs.slice(before).filter((l) => /revoked-key|unknown-key/.test(l));
    assert.deepEqual(refused, [], 'no stored bundle refused for its key');
  });
});
