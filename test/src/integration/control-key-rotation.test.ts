/**
 * Key rotation end to end on a running fleet, with the commands an operator types
 * (`launchfleet-controller keys ...`, the real CLI on the controller's key store) and a real
 * nats-server (one, then a 3-server cluster with R3 buckets), controller and agent link running
 * a real job:
 *
 * - the account signing key: add and activate one, restart the controller; the node is asked to
 *   renew and holds credentials the new key signed, connected, its job never restarted; again to
 *   a second key; then the first is retired: a user JWT it signed is refused by the server (and
 *   a connection holding one is closed), a JWT signed by a key the account never listed too,
 *   by every server of the cluster, while the node stays connected with its job;
 * - the job-signing key: add and activate one, restart: the agent's trust store holds both and
 *   the job keeps its process; re-apply the job (the same plist, a new version the new key
 *   signed): the node takes it as the version it runs, same process; retire the old key,
 *   restart: the agent trusts only the new key. A bundle with the same plist and a higher
 *   version signed by the retired key, or one forged under the new key's id, is refused and
 *   changes nothing; a changed plist after the rotation restarts the job as before; after an
 *   agent restart the job is still there (its stored bundle verifies with the new store).
 *
 * The procedure is in controller/src/identity/README.md, "Key rotation".
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
  generateSigningKey,
  signBundle,
} from '@launchfleet/shared/signing';
import { createNativePair } from '@launchfleet/shared/native-nkeys';
import type { RunningController } from '@launchfleet/controller';
import { KeyStore, freshUserCreds } from '@launchfleet/controller/identity';
import { ControllerFleet, RawApi } from '../support/controller-fleet.ts';
import {
  type LinkNode,
  daemonPlist,
  eventually,
  execedEnviron,
  newPid,
  startLinkNode,
} from '../support/link-node.ts';

const run = promisify(execFile);
const cli = join(import.meta.dirname, '..', '..', '..', 'controller', 'bin', 'launchfleet-controller.js');
const label = 'com.acme.rotated';

/** The issuer of the JWT in a creds file. */
async function credsIssuer(path: string): Promise<string> {
  const text = await readFile(path, 'utf8');
  const jwt = /-----BEGIN NATS USER JWT-----\s+(\S+)\s+/.exec(text)?.[1] ?? '';
  return (JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString()) as { iss: string }).iss;
}

for (const cluster of [false, true])
  describe(`key rotation on a running fleet (${cluster ? '3 servers' : '1 server'})`, () => {
    let fleet: ControllerFleet;
    let c: RunningController | undefined;
    let node: LinkNode;
    let nodeId: string;
    let pid: number;
    let keysDir: string;

    const keys = async (...args: string[]): Promise<string> =>
      (await run(process.execPath, [cli, 'keys', ...args, '--keys', keysDir])).stdout;
    /** Stops the running controller and starts one that reads the key store again. */
    const restartController = async (): Promise<RunningController> => {
      await c?.stop();
      c = await fleet.startController(`ctl-${Date.now()}`, {
        nodeCredentialsLifetimeMs: 10 * 60_000,
        rotationRenewalSpreadMs: 0,
      });
      return c;
    };
    const api = () => new RawApi(c?.grpcPort ?? 0, fleet.tls);
    const applyJob = async (plist = daemonPlist(label)): Promise<number> =>
      (
        await api().call('ApplyJob', { plist, target: { nodes: { names: [nodeId] } } }, fleet.tokens.operator)
      )['version'] as number;
    /** The bundle version the node reports running for the job (its status in `lf_nodes`). */
    const reportedVersion = async (): Promise<string | undefined> => {
      const e = await (await new Kvm(c!.app.nc).open(buckets.nodes)).get(kvKeys.nodeStatus(nodeId));
      if (!e || e.operation !== 'PUT') return undefined;
      const st = decodeNodeStatus(e.value);
      return st.ok ? st.value.versions[label] : undefined;
    };
    /** Puts a bundle into the node's desired key as it is, past the controller (an attacker's write). */
    const putRawBundle = async (raw: string): Promise<void> => {
      const kv = await new Kvm(c!.app.nc).open(buckets.desired);
      await kv.put(kvKeys.desired(nodeId, label), raw);
    };
    /** `launchfleet_nodes_credentials_other_signer` from the controller's /metrics, by state. */
    const otherSigner = async (): Promise<Record<string, number>> => {
      const text = await (await fetch(`http://127.0.0.1:${c?.metricsPort}/metrics`)).text();
      const out: Record<string, number> = {};
      for (const m of text.matchAll(/^launchfleet_nodes_credentials_other_signer\{state="(\w+)"\} (\d+)$/gm))
        out[m[1] ?? ''] = Number(m[2]);
      return out;
    };
    /** A connection with `creds` to one server (the last one: on a cluster, not the one the controller's pushes go to first). */
    const probe = async (creds: Uint8Array, url = fleet.servers.at(-1)?.url ?? ''): Promise<NatsConnection> =>
      connect({ servers: url, authenticator: credsAuthenticator(creds), reconnect: false });

    before(async () => {
      fleet = await ControllerFleet.start({ cluster });
      keysDir = join(fleet.dir, 'keys');
      await restartController();
      const t = await c!.app.enrollment.createToken({ ttlMs: 60_000 });
      node = await startLinkNode({
        urls: fleet.servers.map((x) => x.url),
        token: t.token,
        enrollCreds: await fleet.identity.enrollCreds(),
      });
      await eventually(() => node.link.status().connected, 15_000, 'connected');
      nodeId = node.link.identity?.nodeId ?? '';
      // A second node enrolled with no agent running: it never renews, so it stays on the old key.
      await fleet.enrollNodes(c!, 1);
      await applyJob();
      pid = await eventually(() => node.job(label)?.pid, 15_000, 'the job runs');
    });

    after(async () => {
      await node?.close();
      await fleet?.close();
    });

    test('the account signing key: rotated twice, the old one retired; the node stays, its job never restarts', async () => {
      const credsPath = join(node.stateDir, 'node.creds');
      const accountKey = (await KeyStore.open(keysDir)).natsKeys().account;
      assert.equal(
        await credsIssuer(credsPath),
        accountKey.getPublicKey(),
        'enrolled: signed by the account key',
      );

      assert.deepEqual(
        await otherSigner(),
        { renewable: 0, expired: 0, unrenewable: 0 },
        'all on the signer',
      );
      const s1 =
        /(A[A-Z2-7]{55}) \(active\)/.exec(await keys('add-account-signing-key', '--activate'))?.[1] ?? '';
      assert.ok(s1);
      await restartController();
      await eventually(
        async () => (await credsIssuer(credsPath)) === s1,
        20_000,
        'renewed with credentials s1 signed',
      );
      await eventually(() => node.link.status().connected, 15_000, 'connected with them');
      // The fleet-wide count: the agentless node is still on the account key, the live one is not.
      await eventually(
        async () => (await otherSigner()).renewable === 1,
        10_000,
        'one node (the agentless one) on another key',
      );
      assert.deepEqual(await otherSigner(), { renewable: 1, expired: 0, unrenewable: 0 });
      assert.equal(node.job(label)?.pid, pid, 'the job was not restarted');

      // A user that s1 signs, to see what retiring s1 does to credentials it signed.
      const withS1 = await KeyStore.open(keysDir);
      const s1Creds = await freshUserCreds(
        withS1.natsKeys().account,
        { name: 'probe' },
        withS1.natsKeys().userSigner,
      );
      const s1Conn = await probe(s1Creds);
      const s1Closed = s1Conn.closed();

      // The second time as with several controllers: every controller lists s2 before any signs with it.
      const s2 = /(A[A-Z2-7]{55})/.exec(await keys('add-account-signing-key'))?.[1] ?? '';
      await restartController();
      assert.equal(await credsIssuer(credsPath), s1, 'listed, not active: nothing renewed');
      assert.match(await keys('activate-account-signing-key', s2), /is active/);
      await restartController();
      await eventually(
        async () => (await credsIssuer(credsPath)) === s2,
        20_000,
        'renewed with credentials s2 signed',
      );
      await eventually(() => node.link.status().connected, 15_000, 'connected with them');

      const retired = await keys('retire-account-signing-key', s1);
      assert.match(retired, /user JWTs it signed will be refused/);
      assert.doesNotMatch(await keys('list'), new RegExp(s1));
      await restartController();
      await eventually(
        async () => (await s1Closed.then(() => true)) === true,
        10_000,
        'the s1 connection was closed',
      );
      // Refused by every server of the cluster, not only the one the controller pushed to.
      const stranger = createNativePair('account');
      const forged = await freshUserCreds(accountKey, { name: 'forged' }, stranger);
      for (const server of fleet.servers) {
        await assert.rejects(
          probe(s1Creds, server.url),
          /Authorization|authentication|violation/i,
          `a JWT the retired key signed, at ${server.url}`,
        );
        // A key the account never listed, naming the fleet account as its issuer: refused.
        await assert.rejects(
          probe(forged, server.url),
          /Authorization|authentication|violation/i,
          `a JWT a key the account never listed signed, at ${server.url}`,
        );
      }
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal(node.link.status().connected, true, 'the node, on s2, stays connected');
      assert.equal(node.job(label)?.pid, pid, 'its job never restarted');
    });

    test('the job-signing key: added, jobs re-signed without a restart, the old key retired; the job survives an agent restart', async () => {
      const trusted = async (): Promise<string[]> => {
        const t = JSON.parse(await readFile(join(node.stateDir, 'trust.json'), 'utf8')) as {
          store: { keys: { keyId: string }[] };
        };
        return t.store.keys.map((k) => k.keyId).sort();
      };
      /** The key that signed the bundle the agent keeps in its state dir. */
      const storedKeyId = async (): Promise<string | undefined> => {
        const st = JSON.parse(await readFile(join(node.stateDir, 'desired.json'), 'utf8')) as {
          jobs: { raw: string }[];
        };
        for (const b of st.jobs) {
          const sb = JSON.parse(b.raw) as { bundle: JobBundle };
          if (sb.bundle.label === label) return sb.bundle.keyId;
        }
        return undefined;
      };
      const k1Key: SigningKey = (await KeyStore.open(keysDir)).activeSigningKey();
      const k1 = k1Key.keyId;
      assert.deepEqual(await trusted(), [k1]);
      const k2 =
        /job-signing key (\S+) \(active\)/.exec(await keys('add-signing-key', '--activate'))?.[1] ?? '';
      assert.ok(k2);
      await restartController();
      await eventually(async () => (await trusted()).length === 2, 15_000, 'the agent trusts both keys');
      assert.equal(node.job(label)?.pid, pid, 'the new trust store restarted no job');

      // Re-signing the job with the new key: a new version with the same plist, taken as the
      // version that runs; the process is left alone.
      const resigned = await applyJob();
      await eventually(
        async () => (await reportedVersion()) === String(resigned),
        15_000,
        `the node reports the re-signed version ${resigned}`,
      );
      await eventually(
        async () => (await storedKeyId()) === k2,
        10_000,
        'the stored bundle is the one k2 signed',
      );
      assert.equal(node.job(label)?.pid, pid, 'the re-signed job kept its process');

      await keys('retire-signing-key', k1);
      await restartController();
      await eventually(
        async () => JSON.stringify(await trusted()) === JSON.stringify([k2]),
        15_000,
        'only k2 trusted',
      );
      assert.equal(node.job(label)?.pid, pid, 'retiring k1 touched no job');

      // Same plist, higher version: adopted only once verified. Signed by the retired key, or
      // forged under k2's id, it is refused and changes nothing.
      const now = Date.now();
      const next: JobBundle = {
        label,
        domain: 'system',
        plist: daemonPlist(label),
        version: resigned + 1,
        issuedAt: now,
        expiresAt: now + 3600_000,
        keyId: k1,
        nodeId,
      };
      const seen = node.logs.length;
      await putRawBundle(encodeSignedBundle(signBundle(next, k1Key)));
      await eventually(
        () => node.logs.slice(seen).some((l) => l.includes('unknown-key')),
        10_000,
        'the bundle the retired key signed is refused',
      );
      const stranger = generateSigningKey();
      const forged = signBundle({ ...next, keyId: stranger.keyId }, stranger);
      await putRawBundle(
        JSON.stringify({
          ...forged,
          bundle: { ...forged.bundle, keyId: k2 },
          sig: { ...forged.sig, keyId: k2 },
        }),
      );
      await eventually(
        () => node.logs.slice(seen).some((l) => l.includes('bad-signature')),
        10_000,
        'the forged bundle is refused',
      );
      await node.link.idle();
      assert.equal(await reportedVersion(), String(resigned), 'still the re-signed version');
      assert.equal(await storedKeyId(), k2, 'the stored bundle is unchanged');
      assert.equal(node.job(label)?.pid, pid, 'refused bundles touched no job');

      // A changed plist after the rotation restarts the job, as any new content does.
      const changed = await applyJob(daemonPlist(label, { EnvironmentVariables: { LF_VERSION: '2' } }));
      pid = await newPid(node, label, pid, 15_000, 'the changed job runs as a new process');
      assert.match(await execedEnviron(pid), /LF_VERSION=2/);
      await eventually(
        async () => (await reportedVersion()) === String(changed),
        15_000,
        `the node reports version ${changed}`,
      );

      const beforeRestart = node.logs.length;
      await node.restart();
      await eventually(() => node.link.status().connected, 15_000, 'the agent is back');
      const after = await eventually(
        () => node.job(label)?.pid,
        15_000,
        'the job is still desired after the restart',
      );
      assert.ok(after > 0);
      assert.equal(
        node.logs.slice(beforeRestart).some((l) => l.includes('unknown-key')),
        false,
        'no stored or live bundle was refused for its key',
      );
    });
  });
