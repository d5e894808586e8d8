/**
 * Puts the web console together inside a running controller: the session bucket, the live
 * feed over what the controller already follows, the data pages read, the actions (through
 * the gRPC call policy) and the HTTPS server.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { ApiTokenTable } from '../auth/api-tokens.ts';
import type { PolicyEffects } from '../api/grpc-methods.ts';
import type { RolloutHandlers } from '../api/rollout-handlers.ts';
import type { HostPort } from '../config/controller-config.ts';
import type { DesiredStateService } from '../desired/desired-state-service.ts';
import type { JobRecord } from '../desired/job-record.ts';
import type { FleetAggregator } from '../fleet/fleet-aggregator.ts';
import type { AlertEvaluator } from '../alerts/core/alert-evaluator.ts';
import type { RolloutCache } from '../rollout/rollout-cache.ts';
import { SessionStore } from './session-store.ts';
import { LiveFeed } from './live-feed.ts';
import { ConsoleActions } from './console-actions.ts';
import type { ConsoleData } from './console-routes.ts';
import { startConsoleServer } from './console-server.ts';

export interface ConsoleDeps {
  readonly nc: NatsConnection;
  readonly listen: HostPort;
  readonly tls: { readonly certFile: string; readonly keyFile: string };
  readonly tokens: ApiTokenTable;
  readonly replicas: number;
  readonly sessionMs: number;
  readonly aggregator: FleetAggregator;
  readonly desired: DesiredStateService;
  readonly rolloutCache: RolloutCache;
  readonly rolloutHandlers: RolloutHandlers;
  readonly alerts: AlertEvaluator;
  readonly policy: PolicyEffects;
}

export interface RunningConsole {
  readonly port: number;
  readonly feed: LiveFeed;
  stop(): Promise<void>;
}

/** How long a list of job records is reused: live pages refresh about once a second. */
const jobRecordsCacheMs = 2000;

export async function startConsole(d: ConsoleDeps): Promise<RunningConsole> {
  const sessions = await SessionStore.open(d.nc, { replicas: d.replicas, ttlMs: d.sessionMs });
  const feed = new LiveFeed({
    nc: d.nc,
    aggregator: d.aggregator,
    rollouts: d.rolloutCache,
    clock: d.policy.clock,
    log: d.policy.log,
  });
  feed.start();
  let cached: { at: number; records: Promise<JobRecord[]> } | undefined;
  const clock = d.policy.clock;
  const data: ConsoleData = {
    index: d.aggregator.index,
    now: () => clock.wallMs(),
    jobRecords: () => {
      const now = clock.monotonicMs();
      if (!cached || now - cached.at > jobRecordsCacheMs) {
        const records = d.desired.list();
        cached = { at: now, records };
        // A failed read is not cached.
        void records.catch(() => (cached = undefined));
      }
      return cached.records;
    },
    jobRecord: (label) => d.desired.get(label),
    rollouts: () => feed.rollouts(),
    rollout: (id) => feed.rollout(id),
    alerts: () => d.alerts.firing(),
    events: feed.events,
  };
  try {
    const server = await startConsoleServer({
      listen: d.listen,
      tls: d.tls,
      tokens: d.tokens,
      sessions,
      feed,
      data,
      actions: new ConsoleActions(d.policy, d.rolloutHandlers),
      policy: d.policy,
    });
    return {
      port: server.port,
      feed,
      stop: async () => {
        await server.stop();
        await feed.stop();
      },
    };
  } catch (e) {
    await feed.stop();
    throw e;
  }
}
