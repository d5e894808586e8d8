/**
 * Wires the rollout runtime over one NATS connection: buckets (`lf_rollouts`, `lf_versions`,
 * and `lf_jobs` as start-controller creates it), store, cache (the one watch of `lf_rollouts`),
 * versions, applier, observer, lease, driver and the service the API calls. Every controller runs one; the leases decide who
 * drives which rollout.
 */
import type { DesiredIndex } from '../desired/desired-index.ts';
import { randomBytes } from 'node:crypto';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Registry } from 'prom-client';
import type { Clock } from '@launchfleet/shared';
import { buckets } from '@launchfleet/shared/messages';
import type { SigningKey } from '@launchfleet/shared/signing';
import type { AuditLog } from '../audit/audit-log.ts';
import type { FleetIndex } from '../fleet/core/fleet-index.ts';
import type { RolloutState } from './core/index.ts';
import { JobVersions } from './job-versions.ts';
import { recordLimit } from '../desired/job-record.ts';
import { RolloutApplier } from './rollout-applier.ts';
import { RolloutCache } from './rollout-cache.ts';
import { RolloutDriver } from './rollout-driver.ts';
import { RolloutLease } from './rollout-lease.ts';
import { RolloutMetrics } from './rollout-metrics.ts';
import { RolloutObserver } from './rollout-observer.ts';
import { RolloutService } from './rollout-service.ts';
import { RolloutStore } from './rollout-store.ts';
import { createBucket } from '../identity/stream-limits.ts';

export interface RolloutRuntimeOptions {
  readonly nc: NatsConnection;
  /** The desired-state index every key write goes through (the control plane store's). */
  readonly desiredIndex: DesiredIndex;
  readonly index: FleetIndex;
  readonly signingKey: () => SigningKey;
  readonly audit: AuditLog;
  readonly clock: Clock;
  readonly replicas?: number;
  /** This controller's name in leases; random when left out. */
  readonly holder?: string;
  /** Lease time (ms); default 15 s. */
  readonly leaseMs?: number;
  /** How soon a running rollout is looked at again when its core asks nothing sooner (ms); default 1 s. */
  readonly tickMs?: number;
  /** Retention of finished rollouts: by age (ms, default 30 days) and by count (default 500). */
  readonly keepFinishedMs?: number;
  readonly keepFinishedCount?: number;
  readonly bundleValidityMs?: number;
  /** Where the rollout gauges go. */
  readonly registry?: Registry;
  readonly log?: (line: string) => void;
  /** See RolloutDriverDeps.onStored. */
  readonly onStored?: (rolloutId: string, state: RolloutState) => void;
  /** Start the driver loop (default true). */
  readonly drive?: boolean;
}

export interface RolloutRuntime {
  readonly service: RolloutService;
  readonly driver: RolloutDriver;
  readonly store: RolloutStore;
  /** Every stored rollout, kept by one watch (the driver's source; alerts read it too). */
  readonly cache: RolloutCache;
  readonly versions: JobVersions;
  readonly applier: RolloutApplier;
  /** Clean stop: the driver finishes the reconciles under way and gives its leases up; the watch ends. */
  stop(): Promise<void>;
}

export async function startRolloutRuntime(o: RolloutRuntimeOptions): Promise<RolloutRuntime> {
  const kvm = new Kvm(o.nc);
  const replicas = o.replicas ?? 1;
  const rollouts = await createBucket(o.nc, buckets.rollouts, {
    replicas,
    history: 10,
    maxValueSize: 1024 * 1024,
  });
  const versionsKv = await createBucket(o.nc, buckets.versions, {
    replicas,
    history: 1,
    maxValueSize: 2 * 1024 * 1024,
  });
  const jobs = await createBucket(o.nc, buckets.jobs, {
    replicas,
    history: 5,
    maxValueSize: 2 * 1024 * 1024,
  });
  const desired = await kvm.open(buckets.desired);
  const holder = o.holder ?? `ctl-${randomBytes(4).toString('hex')}`;
  const store = new RolloutStore(rollouts);
  const cache = new RolloutCache(rollouts, { ...(o.log && { log: o.log }) });
  await cache.start();
  const versions = new JobVersions(versionsKv, jobs, () => recordLimit(o.nc.info?.max_payload));
  const applier = new RolloutApplier({
    desired,
    index: o.desiredIndex,
    versions,
    signingKey: o.signingKey,
    clock: o.clock,
    by: holder,
    ...(o.bundleValidityMs !== undefined && { validityMs: o.bundleValidityMs }),
  });
  const observer = new RolloutObserver(o.index, applier, versions, o.clock);
  const lease = new RolloutLease(rollouts, holder, o.leaseMs ?? 15_000, o.clock);
  const metrics = o.registry ? new RolloutMetrics(o.registry) : undefined;
  const driver = new RolloutDriver({
    nc: o.nc,
    store,
    cache,
    lease,
    applier,
    observer,
    audit: o.audit,
    clock: o.clock,
    ...(metrics && { metrics }),
    ...(o.tickMs !== undefined && { tickMs: o.tickMs }),
    ...(o.keepFinishedMs !== undefined && { keepFinishedMs: o.keepFinishedMs }),
    ...(o.keepFinishedCount !== undefined && { keepFinishedCount: o.keepFinishedCount }),
    ...(o.log && { log: o.log }),
    ...(o.onStored && { onStored: o.onStored }),
  });
  const service = new RolloutService({
    store,
    versions,
    applier,
    clock: o.clock,
    candidates: () =>
      [...o.index.nodes()].map((n) => ({
        nodeId: n.nodeId,
        hostname: n.hostname,
        labels: n.labels,
        registered: n.registered,
        revoked: n.revokedAt !== undefined,
      })),
    poke: () => driver.poke(),
  });
  if (o.drive !== false) driver.start();
  return {
    service,
    driver,
    store,
    cache,
    versions,
    applier,
    stop: async () => {
      await driver.stop();
      await cache.stop();
    },
  };
}
