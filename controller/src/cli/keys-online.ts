/**
 * The part of `launchfleet-controller keys` that acts on the running fleet (`--config FILE`):
 * connects to NATS as the controller does (the controller's own credentials, from the key
 * store), publishes the trust store the key store implies (with every revoked key listed as
 * revoked, so agents refuse whatever it signed from the moment they read it), then re-signs
 * the desired state with the active key (identity/job-resigner.ts) and says what still depends
 * on an old key. Used by `keys revoke-signing-key ... --config` and `keys resign-jobs`.
 */
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { ConflictError, systemClock } from '@launchfleet/shared';
import { buckets } from '@launchfleet/shared/messages';
import type { SignedTrustStore } from '@launchfleet/shared/signing';
import type { ControllerConfig } from '../config/controller-config.ts';
import type { KeyStore } from '../identity/key-store.ts';
import { NatsIdentity } from '../identity/nats-identity.ts';
import { provisionControlPlane } from '../identity/provision.ts';
import { createBucket } from '../identity/stream-limits.ts';
import { publishTrustStore } from '../identity/trust-publisher.ts';
import { type ResignResult, resignDesiredState } from '../identity/job-resigner.ts';
import { JobVersions } from '../rollout/job-versions.ts';
import { recordLimit } from '../desired/job-record.ts';
import { RolloutStore } from '../rollout/rollout-store.ts';
import { isFinished } from '../rollout/core/rollout-machine.ts';

export interface OnlineResult {
  readonly trust: SignedTrustStore;
  readonly resign: ResignResult;
}

/** Publishes the trust store, then re-signs every bundle another key than the active one signed. */
export async function publishAndResign(cfg: ControllerConfig, ks: KeyStore): Promise<OnlineResult> {
  const identity = new NatsIdentity(ks.natsKeys());
  const nc: NatsConnection = await connect({
    servers: [...cfg.natsUrls],
    authenticator: credsAuthenticator(await identity.controllerCreds()),
    name: 'launchfleet-controller-keys',
    timeout: 10_000,
    maxReconnectAttempts: 5,
  });
  try {
    const replicas = cfg.jetstreamReplicas;
    const store = await provisionControlPlane(nc, { replicas });
    let trust: SignedTrustStore | undefined;
    for (let attempt = 1; !trust; attempt++) {
      try {
        trust = await publishTrustStore(store.trust, ks, {
          now: systemClock.wallMs(),
          revoke: ks.revokedSigningKeys(),
        });
      } catch (e) {
        // Another controller publishing at the same moment: read again and retry.
        if (!(e instanceof ConflictError) || attempt >= 5) throw e;
        await new Promise((r) => setTimeout(r, 100 * attempt));
      }
    }
    // The same buckets, with the same settings, as the controller's (start-controller.ts,
    // rollout/rollout-runtime.ts): created when no controller has run yet, else just opened.
    const jobs = await createBucket(nc, buckets.jobs, {
      replicas,
      history: 5,
      maxValueSize: 2 * 1024 * 1024,
    });
    const versions = await createBucket(nc, buckets.versions, {
      replicas,
      history: 1,
      maxValueSize: 2 * 1024 * 1024,
    });
    const rollouts = await createBucket(nc, buckets.rollouts, {
      replicas,
      history: 10,
      maxValueSize: 1024 * 1024,
    });
    const busyLabels = new Set(
      (await new RolloutStore(rollouts).list())
        .filter((r) => !isFinished(r.record.state))
        .map((r) => r.record.spec.label),
    );
    const resign = await resignDesiredState({
      desired: store.desired,
      index: store.desiredIndex,
      jobs,
      versions: new JobVersions(versions, jobs, () => recordLimit(nc.info?.max_payload)),
      signingKey: ks.activeSigningKey(),
      clock: systemClock,
      by: 'launchfleet-controller keys',
      busyLabels,
    });
    return { trust, resign };
  } finally {
    await nc.close().catch(() => undefined);
  }
}

/** What an operator reads after a publish and re-sign. */
export function renderOnline(r: OnlineResult, activeKeyId: string): string {
  const t = r.trust.store;
  const lines = [
    `trust store version ${t.version} published: trusted ${t.keys.map((k) => k.keyId).join(', ')}` +
      (t.revoked.length > 0
        ? `; revoked ${t.revoked.join(', ')} (agents refuse every bundle these signed)`
        : ''),
  ];
  const s = r.resign;
  if (s.resigned.length === 0 && s.left.length === 0)
    lines.push(`every bundle in the desired state is signed by ${activeKeyId}`);
  else if (s.resigned.length === 0) lines.push('nothing re-signed');
  for (const g of s.resigned)
    lines.push(
      `re-signed ${g.label} version ${g.fromVersion} (${g.fromKeys.join(', ')}) as version ${g.toVersion} ` +
        `with ${activeKeyId} for ${g.nodes} node${g.nodes === 1 ? '' : 's'} (the same plist: no job restarts)`,
    );
  if (s.superseded > 0) lines.push(`${s.superseded} bundle(s) were replaced meanwhile by a newer version`);
  if (s.left.length > 0) {
    lines.push(`${s.left.length} bundle(s) still depend on an old key:`);
    for (const l of s.left)
      lines.push(`  ${l.label} version ${l.version} on node ${l.nodeId}, signed by ${l.keyId}: ${l.reason}`);
  }
  for (const k of s.unreadable) lines.push(`  not a bundle, left alone: lf_desired/${k}`);
  return `${lines.join('\n')}\n`;
}
