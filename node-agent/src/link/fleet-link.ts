/**
 * The agent's fleet link: enrolment, the NATS connection (full-jitter reconnect), the
 * watch -> verify -> reconcile loop, drift repair, status/events/heartbeats. The agent's
 * main calls `startFleetLink` when `config.controller` is set, after its DomainManager started.
 *
 * ```
 *  start ─▶ stored identity? ──no──▶ enrol (bootstrap token, retried with backoff)
 *             │yes                        │
 *             ▼                           ▼
 *   restore last verified desired state (state dir; re-verified) ─▶ reconcile (works offline)
 *             │
 *             ▼
 *   ┌─▶ connect as the node ──fail──▶ wait fullJitter(attempt) ──┐
 *   │        │ok                                                  │
 *   │        ▼                                                    │
 *   │   session: desired watch (verify gate) ─▶ reconciler        │
 *   │            reporter.attach (status, inventory, events, hb)  │
 *   │        │ connection lost                                    │
 *   └────────┴────────────────────────────────────────────────────┘
 * ```
 * Jobs never depend on the link: losing NATS changes nothing the supervisor runs.
 *
 * This file wires the parts (reconciler, reporter, drift, renewal) and runs the loop. The
 * parts of the loop are their own modules: its connection state is one value
 * (link-context.ts), an enrolment attempt is link-enrolment.ts, a session link-session.ts,
 * the pacing between passes a pure core (core/link-loop.ts), and how a failed pass is
 * classified link-failure.ts. The settings and status types are in fleet-link-settings.ts.
 */
import { hostname as osHostname } from 'node:os';
import { createRequire } from 'node:module';
import { messageOf } from '@launchfleet/shared/errors';
import { systemScheduler } from '@launchfleet/shared/clock';
import { loadTrustStoreFile } from '@launchfleet/shared/signing';
import { modelPlistLoader } from '../supervisor/domains/model-plist-loader.ts';
import { defaultBackoff } from './core/backoff.ts';
import { type LinkPacing, type LinkPassOutcome, initialLinkLoop, nextLinkWait } from './core/link-loop.ts';
import { CredentialRenewal } from './credential-renewal.ts';
import { type NodeIdentity, loadIdentity } from './credentials.ts';
import { DesiredStore } from './desired-store.ts';
import { DriftDetector } from './drift.ts';
import { type FleetLink, type FleetLinkOptions, linkDefaults } from './fleet-link-settings.ts';
import { type LinkContext, initialConnection } from './link-context.ts';
import { enrolOnce } from './link-enrolment.ts';
import { type LinkFailure, linkFailure, linkFailureLine } from './link-failure.ts';
import { runSession } from './link-session.ts';
import { ManagedFiles } from './managed-files.ts';
import { Reconciler } from './reconciler.ts';
import { Reporter } from './reporter.ts';

export type {
  FleetLink,
  FleetLinkOptions,
  FleetLinkSettings,
  FleetLinkStatus,
  LinkState,
} from './fleet-link-settings.ts';
import { EdgePacing, credentialName } from './nats-edge.ts';

/** Starts the fleet link. Resolves once the last verified state has been handed to the reconciler. */
export async function startFleetLink(o: FleetLinkOptions): Promise<FleetLink> {
  const controller = o.config.controller;
  if (!controller) throw new Error('startFleetLink: config.controller is not set');
  const set = o.settings ?? {};
  const scheduler = o.scheduler ?? systemScheduler;
  const random = o.random ?? Math.random;
  const backoff = set.backoff ?? defaultBackoff;
  const reconnectSpreadMs = Math.max(0, set.reconnectSpreadMs ?? backoff.capMs);
  const lameDuckSpreadMs = Math.max(0, set.lameDuckSpreadMs ?? 1000);
  const log = o.log;
  const files = new ManagedFiles(o.stateDir, o.fs);
  const store = new DesiredStore(o.stateDir, o.fs);
  const refusals = new Map<string, number>();
  const c = initialConnection();
  let wake: (() => void) | undefined;

  const hostname = set.hostname ?? osHostname();
  const agentVersion = set.agentVersion ?? packageVersion();
  const counters = () => ({ signatureRefusals: Object.fromEntries(refusals), drift: drift.counts() });
  const drift = new DriftDetector({
    fs: o.fs,
    scheduler,
    resyncMs: set.resyncMs ?? linkDefaults.resyncMs,
    onSuspect: (why) => reconciler.requestPass(why),
  });
  const reconciler: Reconciler = new Reconciler({
    domainManager: o.domainManager,
    files,
    store,
    drift,
    loader: o.loader ?? modelPlistLoader(),
    log,
    wallMs: () => o.clock.wallMs(),
    monotonicMs: () => o.clock.monotonicMs(),
    scheduler,
    emit: (e) => reporter.emit(e),
    onPass: (actions) => {
      reporter.poke();
      o.onPass?.(actions);
    },
  });
  const reporter = new Reporter({
    hostname,
    agentVersion,
    labels: set.labels ?? {},
    domainManager: o.domainManager,
    reconciler,
    clock: o.clock,
    scheduler,
    log,
    ...(o.users && { users: o.users }),
    credential: () => credentialName(c.identity?.nodeId ?? '', c.identity?.credsPath),
    counters,
    heartbeatMs: set.heartbeatMs ?? linkDefaults.heartbeatMs,
    ...(set.events && { events: set.events }),
    statusMinIntervalMs: set.statusMinIntervalMs ?? linkDefaults.statusMinIntervalMs,
    statusRefreshMs: set.statusRefreshMs ?? linkDefaults.statusRefreshMs,
    scanMs: set.scanMs ?? linkDefaults.scanMs,
    maxQueuedEvents: set.maxQueuedEvents ?? linkDefaults.maxQueuedEvents,
    random,
    // A session opened or closed: gui/* and user/* jobs follow it.
    onDomainsChanged: () => reconciler.requestPass('domains changed'),
  });

  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const t = scheduler.after(ms, () => {
        wake = undefined;
        resolve();
      });
      wake = () => {
        t.cancel();
        wake = undefined;
        resolve();
      };
    });

  const ctx: LinkContext = {
    o,
    controller,
    set,
    scheduler,
    random,
    log,
    hostname,
    agentVersion,
    reconciler,
    reporter,
    refusals,
    desiredPacing: new EdgePacing(),
    conn: c,
    loadTrust: async (): Promise<void> => {
      if (!c.identity) return;
      const r = await loadTrustStoreFile(
        c.identity.trustStorePath,
        set.pinnedKeyIds ? { pinnedKeyIds: set.pinnedKeyIds } : {},
      );
      if (r.ok) c.trust = r.store;
      else log('warn', 'link', `stored trust store refused: ${r.reason}: ${r.detail}`);
    },
    // Credentials are renewed before they expire (credential-renewal.ts).
    startRenewal: async (id: NodeIdentity): Promise<void> => {
      c.renewal?.stop();
      c.renewal = new CredentialRenewal({
        identity: id,
        clock: o.clock,
        scheduler,
        random,
        log,
        onRenewed: () => {
          c.renewed = true;
          void c.nc?.close().catch(() => undefined);
        },
      });
      await c.renewal.start();
    },
  };

  // ---- start: identity and the last verified state (no network needed) ---------------------
  c.identity = await loadIdentity(o.stateDir);
  if (c.identity) {
    await ctx.startRenewal(c.identity);
    reporter.setNodeId(c.identity.nodeId);
    await ctx.loadTrust();
    await reconciler.restore(c.trust, c.identity.nodeId);
  }
  drift.start();
  reporter.start();
  reconciler.requestPass('agent start');

  // ---- the connection loop -------------------------------------------------------------------
  // The loop's pacing is decided by core/link-loop.ts from how each pass ended; here is the I/O.
  const pacing: LinkPacing = { backoff, reconnectSpreadMs, lameDuckSpreadMs };
  const loop = async (): Promise<void> => {
    let pace = initialLinkLoop;
    let failure: LinkFailure | undefined;
    while (!c.stopped) {
      let outcome: LinkPassOutcome;
      try {
        if (!c.identity && !(await enrolOnce(ctx)))
          throw c.lastEnrolError ?? new Error(c.lastError ?? 'enrolment failed');
        const id = c.identity;
        if (id && c.renewal?.expired())
          await c.renewal.reenrol(
            controller.bootstrapTokenFile,
            async () =>
              (await enrolOnce(ctx, id)) ? 'enrolled' : c.lastEnrolUnreachable ? 'unreachable' : 'refused',
            () => c.lastError ?? '?',
          );
        if (!c.identity) outcome = { kind: 'no-identity' };
        else {
          const before = c.connects;
          await runSession(ctx, c.identity);
          const connected = c.connects > before;
          const wasRenewed = c.renewed;
          // A renewal that closed a session is used up once a session connected with it.
          if (connected) c.renewed = false;
          outcome = {
            kind: 'session-ended',
            connected,
            lostBroker: c.lostBroker,
            lameDuck: c.lameDuck,
            renewed: wasRenewed,
          };
        }
      } catch (e) {
        c.connectFailures++;
        c.lastError = messageOf(e);
        // Classified once, here where the loop catches it (link-failure.ts): credentials NATS
        // refuses need a person and are not retried quickly; the rest back off.
        failure = linkFailure(e);
        outcome = failure.kind === 'authorization' ? { kind: 'refused' } : { kind: 'failed' };
      }
      if (c.stopped) break;
      const next = nextLinkWait(pace, outcome, pacing, random);
      pace = next.state;
      if (failure) {
        const { level, line } = linkFailureLine(failure, c.lastError ?? '', next.wait.ms);
        log(level, 'link', line);
        failure = undefined;
      }
      if (next.wait.kind === 'none') continue;
      c.state = 'waiting';
      await sleep(next.wait.ms);
    }
  };
  const looping = loop().catch((e: unknown) => log('error', 'link', `link loop ended: ${messageOf(e)}`));

  return {
    get identity() {
      return c.identity;
    },
    onJobStatus: (s) => {
      reporter.onJobStatus(s);
      // A managed job disabled by hand is drift: repair now rather than at the next level check.
      if (s.disabled && reconciler.managedVersion(s.domain, s.label) !== undefined)
        reconciler.requestPass(`${s.domain}/${s.label} disabled`);
    },
    idle: () => reconciler.idle(),
    retrying: () => reconciler.retrying(),
    status: () => ({
      state: c.state,
      nodeId: c.identity?.nodeId,
      connected: c.state === 'connected',
      desiredRevision: reconciler.revision,
      refusals: Object.fromEntries(refusals),
      drift: drift.counts(),
      connects: c.connects,
      connectFailures: c.connectFailures,
      sessionChanges: { connect: c.connects, ...c.moves },
      lastError: c.lastError,
      reconcilePasses: reconciler.passes,
      eventsQueued: reporter.queued,
      reporter: { ...reporter.stats },
      credentials: c.renewal?.status(),
    }),
    stop: async () => {
      if (c.stopped) return;
      c.stopped = true;
      wake?.();
      c.renewal?.stop();
      drift.stop();
      await reconciler.stop();
      await reporter.stop();
      await c.nc?.close().catch(() => undefined);
      await looping;
      await c.trustWrites;
      c.state = 'stopped';
    },
  };
}

/** node-agent's package version (dist/link/ -> ../../package.json). */
function packageVersion(): string {
  try {
    const pkg = createRequire(import.meta.url)('../../package.json') as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}
