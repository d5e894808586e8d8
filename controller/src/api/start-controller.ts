/**
 * Starts a whole controller from its configuration: NATS connections with the controller's
 * own identity, buckets and streams, trust publishing, enrolment, the fleet aggregator, the
 * gRPC API and /metrics. Used by main.ts and by the integration tests (which run several
 * controllers against one NATS to show they share nothing but JetStream).
 */
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { type Clock, systemClock, messageOf } from '@launchfleet/shared';
import { buckets, subjects } from '@launchfleet/shared/messages';
import { natsError } from '@launchfleet/shared/nats-errors';
import { guardNatsTransport } from '@launchfleet/shared/nats-write-guard';
import { EnrollmentService } from '../enrollment/enrollment-service.ts';
import { nodesToRenewForSigner, nudgeBody } from '../enrollment/core/rotation-nudge.ts';
import { KeyStore } from '../identity/key-store.ts';
import { NatsIdentity } from '../identity/nats-identity.ts';
import { provisionControlPlane } from '../identity/provision.ts';
import { publishTrustStore } from '../identity/trust-publisher.ts';
import { ApiTokenTable } from '../auth/api-tokens.ts';
import { AuditLog, provisionAuditStream } from '../audit/audit-log.ts';
import type { ControllerConfig } from '../config/controller-config.ts';
import { DesiredStateService } from '../desired/desired-state-service.ts';
import { trackBrokerConnection } from '../desired/broker-connection.ts';
import { recordLimit } from '../desired/job-record.ts';
import { FleetAggregator } from '../fleet/fleet-aggregator.ts';
import { FleetMetrics } from '../metrics/fleet-metrics.ts';
import type { FleetIndex } from '../fleet/core/fleet-index.ts';
import { type MetricsEndpoint, startMetricsServer } from '../metrics/metrics-server.ts';
import type { FleetServices } from './fleet-handlers.ts';
import { EventFollower } from '../fleet/event-follower.ts';
import { FleetQueries } from '../fleet/fleet-queries.ts';
import { type GrpcApi, startGrpcServer } from './grpc-server.ts';
import { RolloutHandlers } from './rollout-handlers.ts';
import { type RolloutRuntime, startRolloutRuntime } from '../rollout/rollout-runtime.ts';
import { type AlertRuntime, startAlertRuntime } from '../alerts/alert-runtime.ts';
import type { AlertSettings } from '../alerts/core/alert-rules.ts';
import { createBucket } from '../identity/stream-limits.ts';
import { type RunningConsole, startConsole } from '../console/start-console.ts';

// A write to a socket the server ended must not end the controller (shared/src/nats-write-guard.ts):
// its connections live through rolling restarts as the agents' do.
guardNatsTransport();

/** The controller's services, and what they run over (tests reach the connection and the index). */
export interface FleetApp extends FleetServices {
  readonly nc: NatsConnection;
  readonly index: FleetIndex;
  readonly metrics: FleetMetrics;
}

/** A running controller. */
export interface RunningController {
  readonly app: FleetApp;
  readonly aggregator: FleetAggregator;
  readonly grpcPort: number;
  readonly metricsPort: number | undefined;
  /** The web console's HTTPS port, when `consoleListen` is set. */
  readonly consolePort: number | undefined;
  /** The rollout runtime (issue 7). */
  readonly rollouts: RolloutRuntime;
  /** The controller's own alert events (issue 8). */
  readonly alerts: AlertRuntime;
  stop(): Promise<void>;
}

export interface StartOptions {
  readonly clock?: Clock;
  readonly log?: (line: string) => void;
  /** Name of the NATS connections (several controllers in one test). */
  readonly name?: string;
  /** Rollout driver timings (tests use short ones); defaults: 1 s period, 15 s lease. */
  readonly rollout?: { readonly tickMs?: number; readonly leaseMs?: number; readonly holder?: string };
  /** How often the desired-state indexes are checked against the live keys. Default 10 min. */
  /** How often nodes still on another signing key are asked to renew (default 10 min). */
  readonly rotationNudgeMs?: number;
  readonly indexRepairMs?: number;
  /** Alert hold-down times (default: the rules' `for:`) and evaluation period (default 1 s). */
  readonly alerts?: { readonly settings?: AlertSettings; readonly tickMs?: number };
  /** Console session lifetime (default: the config's consoleSessionHours); tests use seconds. */
  readonly console?: { readonly sessionMs?: number };
}

export async function startController(
  cfg: ControllerConfig,
  o: StartOptions = {},
): Promise<RunningController> {
  const clock = o.clock ?? systemClock;
  const log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const tokens = await ApiTokenTable.load(cfg.apiTokensFile);
  if (tokens.size === 0)
    log(`controller: ${cfg.apiTokensFile} holds no API token; every call will be refused`);
  const keyStore = await KeyStore.open(cfg.keyStoreDir);
  const identity = new NatsIdentity(keyStore.natsKeys());
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const s of stops.reverse())
      await s().catch((e: unknown) => log(`controller: stop: ${messageOf(e)}`));
  };
  try {
    const common = {
      servers: [...cfg.natsUrls],
      reconnectTimeWait: 500,
      reconnectJitter: 500,
      maxReconnectAttempts: -1,
      // No Error (stack trace) built per request in case it fails: the controller makes one
      // request per node key it writes (test/bench/FLEET-RESULTS.md).
      noAsyncTraces: true,
    };
    // Classified where it enters (shared nats-errors.ts): credentials the servers refuse say so
    // ("NATS refused our credentials"), not a bare "Authorization Violation".
    const nc: NatsConnection = await connect({
      ...common,
      authenticator: credsAuthenticator(await identity.controllerCreds()),
      name: o.name ?? 'launchfleet-controller',
    }).catch((e: unknown) => {
      throw natsError(e, 'connecting to NATS as the controller');
    });
    stops.push(() => nc.close());
    const sys = await connect({
      ...common,
      authenticator: credsAuthenticator(await identity.systemCreds()),
      name: `${o.name ?? 'launchfleet-controller'}-sys`,
    }).catch((e: unknown) => {
      throw natsError(e, 'connecting to NATS as the system account');
    });
    stops.push(() => sys.close());
    const store = await provisionControlPlane(nc, {
      replicas: cfg.jetstreamReplicas,
      now: () => clock.wallMs(),
      log: (l) => log(`controller: ${l}`),
    });
    const jobs = await createBucket(nc, buckets.jobs, {
      replicas: cfg.jetstreamReplicas,
      history: 5,
      maxValueSize: 2 * 1024 * 1024,
    });
    await provisionAuditStream(nc, cfg.jetstreamReplicas);
    // Revoked job-signing keys (keys revoke-signing-key) stay revoked in every store published.
    await publishWithRetry(() =>
      publishTrustStore(store.trust, keyStore, {
        now: clock.wallMs(),
        revoke: keyStore.revokedSigningKeys(),
      }),
    );
    const enrollment = new EnrollmentService({
      nc,
      sys,
      store,
      identity,
      clock,
      credentialsLifetimeMs: cfg.nodeCredentialsLifetimeMs,
      log: (l) => log(`enrolment: ${l}`),
    });
    await enrollment.start();
    stops.push(() => enrollment.stop());
    const aggregator = new FleetAggregator({
      nc,
      registry: store.registry,
      nodes: store.nodes,
      clock,
      offlineAfterMs: cfg.offlineAfterMs,
      log,
    });
    await aggregator.start();
    stops.push(() => aggregator.stop());
    // Every node gets an index, and every live key is listed in its node's index (an upgrade
    // from a version without indexes, a double fault, a hand-made write): at start, then every
    // `indexRepairMs`. Several controllers may repair at once; every change is a compare-and-set.
    const repairIndexes = async (): Promise<void> => {
      try {
        const r = await store.desiredIndex.repair([...aggregator.index.nodes()].map((n) => n.nodeId));
        if (r.created > 0 || r.listed > 0 || r.failures > 0)
          log(
            `controller: desired-state indexes of ${r.nodes} nodes checked: ${r.created} created, ${r.listed} keys listed, ${r.failures} failed`,
          );
      } catch (e) {
        log(`controller: desired-state index repair failed: ${messageOf(e)}`);
      }
    };
    let repairing = repairIndexes();
    const repairTimer = setInterval(
      () => {
        repairing = repairing.then(repairIndexes);
      },
      o.indexRepairMs ?? 10 * 60_000,
    );
    repairTimer.unref();
    stops.push(async () => {
      clearInterval(repairTimer);
      await repairing;
    });
    // A changed account signing key (identity/README.md, "Key rotation"): ask every node whose
    // credentials another key signed to renew within the configured spread; at start, then every
    // 10 minutes for nodes that were offline or whose nudge was lost (core messages).
    const nudgeRotation = (): void => {
      const ids = nodesToRenewForSigner(
        aggregator.index.nodes(),
        identity.nodeSignerPublicKey,
        clock.wallMs(),
      );
      if (ids.length === 0) return;
      const body = nudgeBody(cfg.rotationRenewalSpreadMs);
      for (const id of ids) nc.publish(subjects.query(id, 'renew'), body);
      log(
        `controller: asked ${ids.length} nodes to renew credentials signed by another key than ` +
          `${identity.nodeSignerPublicKey} within ${Math.round(cfg.rotationRenewalSpreadMs / 60_000)} min`,
      );
    };
    nudgeRotation();
    const nudgeTimer = setInterval(nudgeRotation, o.rotationNudgeMs ?? 10 * 60_000);
    nudgeTimer.unref();
    stops.push(() => {
      clearInterval(nudgeTimer);
      return Promise.resolve();
    });
    const desired = new DesiredStateService({
      desired: store.desired,
      index: store.desiredIndex,
      jobs,
      brokerConnected: trackBrokerConnection(nc),
      signingKey: () => keyStore.activeSigningKey(),
      candidates: () =>
        [...aggregator.index.nodes()].map((n) => ({
          nodeId: n.nodeId,
          hostname: n.hostname,
          labels: n.labels,
          registered: n.registered,
          revoked: n.revokedAt !== undefined,
        })),
      clock,
      concurrency: cfg.applyConcurrency,
      maxRecordBytes: () => recordLimit(nc.info?.max_payload),
    });
    const metrics = new FleetMetrics(aggregator.index, clock, () => identity.nodeSignerPublicKey);
    const app: FleetApp = {
      desired,
      queries: new FleetQueries({ index: aggregator.index, desired, clock, metrics }),
      events: new EventFollower(nc, clock),
      index: aggregator.index,
      enrollment,
      identity,
      audit: new AuditLog(nc),
      nc,
      clock,
      metrics,
      bundleValidityMs: cfg.bundleValidityMs,
    };
    const rollouts = await startRolloutRuntime({
      nc,
      desiredIndex: store.desiredIndex,
      index: aggregator.index,
      signingKey: () => keyStore.activeSigningKey(),
      audit: app.audit,
      clock,
      replicas: cfg.jetstreamReplicas,
      registry: metrics.registry,
      bundleValidityMs: cfg.bundleValidityMs,
      keepFinishedMs: cfg.keepFinishedRolloutsMs,
      keepFinishedCount: cfg.keepFinishedRollouts,
      log,
      ...(o.rollout?.tickMs !== undefined && { tickMs: o.rollout.tickMs }),
      ...(o.rollout?.leaseMs !== undefined && { leaseMs: o.rollout.leaseMs }),
      ...(o.rollout?.holder !== undefined && { holder: o.rollout.holder }),
    });
    stops.push(() => rollouts.stop());
    const alerts = await startAlertRuntime({
      nc,
      index: aggregator.index,
      clock,
      replicas: cfg.jetstreamReplicas,
      registry: metrics.registry,
      holder: o.name ?? 'launchfleet-controller',
      log,
      rollouts: rollouts.cache,
      ...(o.alerts?.settings !== undefined && { settings: o.alerts.settings }),
      ...(o.alerts?.tickMs !== undefined && { tickMs: o.alerts.tickMs }),
    });
    stops.push(() => alerts.stop());
    let metricsEndpoint: MetricsEndpoint | undefined;
    if (cfg.metricsListen) {
      metricsEndpoint = await startMetricsServer(metrics.registry, cfg.metricsListen);
      const m = metricsEndpoint;
      stops.push(() => m.stop());
    }
    const rolloutHandlers = new RolloutHandlers(rollouts.service, rollouts.store);
    const api: GrpcApi = await startGrpcServer(app, {
      listen: cfg.grpcListen,
      tls: cfg.tls,
      tokens,
      log,
      rollouts: rolloutHandlers,
    });
    stops.push(() => api.stop());
    let web: RunningConsole | undefined;
    if (cfg.consoleListen && cfg.tls) {
      web = await startConsole({
        nc,
        listen: cfg.consoleListen,
        tls: cfg.tls,
        tokens,
        replicas: cfg.jetstreamReplicas,
        sessionMs: o.console?.sessionMs ?? cfg.consoleSessionMs,
        aggregator,
        desired,
        rolloutCache: rollouts.cache,
        rolloutHandlers,
        alerts: alerts.evaluator,
        policy: { audit: app.audit, metrics, clock, log },
      });
      const w = web;
      stops.push(() => w.stop());
    }
    return {
      app,
      aggregator,
      grpcPort: api.port,
      metricsPort: metricsEndpoint?.port,
      consolePort: web?.port,
      rollouts,
      alerts,
      stop: stopAll,
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}

/** Two controllers starting together can race on the trust store's compare-and-set. */
async function publishWithRetry(fn: () => Promise<unknown>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await fn();
      return;
    } catch (e) {
      if (attempt >= 5) throw e;
      await new Promise((r) => setTimeout(r, 100 * attempt));
    }
  }
}
