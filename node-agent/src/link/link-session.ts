/**
 * One session of the fleet link: connect as the node, set up the desired-state watch (verify
 * gate -> reconciler) and the status bucket within a bound, attach the reporter and the
 * credential renewal, and hold until the connection closes or the watch ends. Resolves when the
 * session is over (cleaned up); rejects when it could not be set up. The connection state
 * (link-context.ts) says how it ended (`connects`, `lostBroker`, `lameDuck`), which the loop
 * turns into its next wait (core/link-loop.ts).
 *
 * The node connects to the controller's servers in its own order of preference
 * (core/server-order.ts: a home server, then the rest). A session moves to another server
 * without a gap (make-before-break: the new connection and its set-up first, then the reporter
 * and the renewal switch over, then the old connection closes) when
 * - its server enters lame-duck mode (a rolling restart: the server refuses new clients and will
 *   close this one within its lame-duck duration): at a random time within `lameDuckMoveSpreadMs`,
 *   to the next server in the node's order;
 * - it is not on its home server: at a random time within `returnHomeMs`, back home, so a
 *   fleet stays spread as the servers are after a restart instead of piling on the last one up.
 * A move that cannot be made leaves the session where it is (a lame-duck move is tried again a few
 * times within seconds, a return home later);
 * one whose old connection closed before the new one was ready is an outage and is said so
 * ("disconnected after", then "connected to").
 */
import { type KV, Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { TimeoutError, messageOf } from '@launchfleet/shared/errors';
import type { TimerHandle } from '@launchfleet/shared/clock';
import { type NodeEventKind, buckets } from '@launchfleet/shared/messages';
import { writeFileAtomic } from '../adapters/atomic-write.ts';
import type { NodeIdentity } from './credentials.ts';
import { DesiredWatch } from './desired-watch.ts';
import { linkDefaults } from './fleet-link-settings.ts';
import type { LinkContext } from './link-context.ts';
import { connectAsNode } from './node-connection.ts';
import { credentialName } from './nats-edge.ts';
import { jitteredPeriod, spreadDelay } from './core/backoff.ts';
import { isHome, otherServers, rotated, serverPreference } from './core/server-order.ts';

/** The longest a session set-up may take, however many were given up before it. */
const maxSetupMs = 120_000;

/** A session's parts on one connection. */
interface Parts {
  readonly conn: NatsConnection;
  readonly watch: DesiredWatch;
  readonly nodes: KV;
}

/** Where a session should go, and why (for the log). */
interface Move {
  readonly servers: readonly string[];
  readonly why: string;
  /** What it counts as when made (`launchfleet_agent_nats_session_changes_total`). */
  readonly kind: 'moved_lame_duck' | 'moved_home';
  /** Attempts of this move that failed before (a lame-duck move is tried again). */
  readonly failed?: number;
}

/**
 * A move off a server in lame-duck mode that fails (at 2,000 simulated agents on 2 cores, 167 of
 * 389 interrupted sessions were moves refused with `Authentication Timeout` by a busy server) is
 * tried again this many times, [0.5, 1), [1, 2) and [2, 4) s after: staying means being closed
 * by that server within its lame-duck duration, an outage.
 */
const lameDuckMoveRetries = 3;
const lameDuckMoveRetryBaseMs = 500;

/** Runs one session as `id` (see above). */
export async function runSession(ctx: LinkContext, id: NodeIdentity): Promise<void> {
  const { conn: c, set, log, scheduler, reporter } = ctx;
  c.state = 'connecting';
  c.lostBroker = false;
  c.lameDuck = false;
  const preference = serverPreference(id.nodeId, ctx.controller.natsUrls);
  let cur: Parts;
  try {
    cur = await openParts(ctx, id, rotated(preference, c.failedSetups), true);
  } catch (e) {
    // stop() ran while this connection was being made: nothing to report.
    if (c.stopped) return;
    if (!messageOf(e).startsWith('connect:')) c.failedSetups++;
    throw e;
  }
  c.failedSetups = 0;
  c.setupTimeouts = 0;
  let startedAt = 0;
  let saidDown = false;
  /** Why the connection that ended the session closed, when the client said (for the log). */
  let closedWhy = '';
  // A session is up: the first connect's, and one made by a move after the old connection had
  // closed (an outage). Both say so the same way, and clear what the last outage left.
  const sayConnected = (conn: NatsConnection): void => {
    saidDown = false;
    closedWhy = '';
    c.connects++;
    c.state = 'connected';
    c.lastError = undefined;
    startedAt = ctx.o.clock.monotonicMs();
    log('info', 'link', `connected to ${conn.getServer()} as ${id.nodeId}`);
  };
  sayConnected(cur.conn);
  const timers: TimerHandle[] = [];
  let pending: Move | undefined;
  let wakeHold: (() => void) | undefined;
  const requestMove = (m: Move): void => {
    if (pending || c.stopped) return;
    pending = m;
    wakeHold?.();
  };
  let moving = false;
  // Moves away when the server of `parts` announces lame-duck mode.
  const armLameDuck = (parts: Parts): void => {
    const server = parts.conn.getServer();
    watchLameDuck(parts.conn, () => {
      if (parts !== cur) return;
      c.lameDuck = true;
      const to = otherServers(preference, server);
      const spread = set.lameDuckMoveSpreadMs ?? linkDefaults.lameDuckMoveSpreadMs;
      const move = to.length > 0 && spread > 0;
      log(
        'info',
        'link',
        `${server} entered lame-duck mode; ${move ? 'moving to another server' : 'reconnecting elsewhere when it closes'}`,
      );
      if (move)
        timers.push(
          scheduler.after(spreadDelay(spread, ctx.random()), () => {
            if (parts === cur)
              requestMove({ servers: to, why: `${server} is in lame-duck mode`, kind: 'moved_lame_duck' });
          }),
        );
    });
  };
  // Moves back home some time after a session began elsewhere (or a move home failed).
  const armReturnHome = (parts: Parts): void => {
    const home = set.returnHomeMs ?? linkDefaults.returnHomeMs;
    if (home === false || isHome(preference, parts.conn.getServer())) return;
    timers.push(
      scheduler.after(home.minMs + spreadDelay(home.maxMs - home.minMs, ctx.random()), () => {
        if (parts === cur && !c.lameDuck)
          requestMove({
            servers: preference.slice(0, 1),
            why: 'back to its home server',
            kind: 'moved_home',
          });
      }),
    );
  };
  const attach = (parts: Parts): void => {
    c.nc = parts.conn;
    c.watch = parts.watch;
    reporter.attach(parts.conn, parts.nodes);
    c.renewal?.attach(parts.conn);
    armLameDuck(parts);
    armReturnHome(parts);
    // An old connection that closes while a move is being made: the session is down until the
    // new one is ready (an outage, said so), not a gap hidden by the move.
    void parts.conn.closed().then((err) => {
      if (parts !== cur) return;
      closedWhy = closeReason(err);
      if (!moving || c.stopped) return;
      saidDown = true;
      c.state = 'connecting';
      sayDisconnected();
    });
  };
  const sayDisconnected = (): void => {
    // Why it closed (a stale connection, a server's error) is what tells a dead broker from a
    // link too busy to answer its pings; the status keeps it until the next session is made.
    if (closedWhy) c.lastError = `the connection closed: ${closedWhy}`;
    log(
      'warn',
      'link',
      `disconnected after ${Math.round((ctx.o.clock.monotonicMs() - startedAt) / 1000)} s${closedWhy ? ` (${closedWhy})` : ''}`,
    );
  };
  try {
    // stop() ran while this session was being set up: the finally closes it, or it would live
    // on and stop() would wait for it forever.
    if (c.stopped) return;
    attach(cur);
    for (;;) {
      const held = cur;
      await Promise.race([
        held.conn.closed(),
        held.watch.ended(),
        new Promise<void>((resolve) => {
          wakeHold = resolve;
          if (pending) resolve();
        }),
      ]);
      wakeHold = undefined;
      const m = pending;
      pending = undefined;
      if (!m || c.stopped) break;
      moving = true;
      // Closed before the move began (the server was quicker): an outage from here.
      if (held.conn.isClosed() && !saidDown) {
        saidDown = true;
        c.state = 'connecting';
        sayDisconnected();
      }
      const failed = m.failed ?? 0;
      const retry = m.kind === 'moved_lame_duck' && failed < lameDuckMoveRetries;
      const next = await openParts(ctx, id, m.servers, false).catch((e: unknown) => {
        c.moves.move_failed++;
        log(
          'info',
          'link',
          `could not move (${m.why}): ${messageOf(e)}; ${retry ? 'trying again shortly' : 'staying'}`,
        );
        return undefined;
      });
      moving = false;
      if (next && c.stopped) await closeParts(next);
      if (!next || c.stopped) {
        if (held.conn.isClosed() || c.stopped) break;
        if (retry)
          timers.push(
            scheduler.after(jitteredPeriod(lameDuckMoveRetryBaseMs * 2 ** failed, 1, ctx.random()), () => {
              if (held === cur) requestMove({ ...m, failed: failed + 1 });
            }),
          );
        // Home did not answer: try again later.
        else armReturnHome(held);
        continue;
      }
      // Make-before-break: the new session is set up; switch the reporter and the renewal
      // over, then close the old connection.
      c.renewal?.detach();
      reporter.detach();
      cur = next;
      c.lameDuck = false;
      // A move asked for meanwhile was about the old server (its lame-duck notice).
      pending = undefined;
      attach(next);
      if (saidDown) sayConnected(next.conn);
      else {
        c.moves[m.kind]++;
        log('info', 'link', `moved to ${next.conn.getServer()} (${m.why}), without a gap`);
      }
      await closeParts(held);
    }
    c.lostBroker = cur.conn.isClosed();
    if (c.lostBroker) closedWhy = closeReason(await cur.conn.closed());
    // A watch that ended on an open connection would leave the node deaf: start over.
    if (!cur.conn.isClosed()) log('warn', 'link', 'the desired-state watch ended; reconnecting');
  } finally {
    for (const t of timers) t.cancel();
    c.renewal?.detach();
    reporter.detach();
    c.watch = undefined;
    c.nc = undefined;
    await closeParts(cur);
    if (!c.stopped && !saidDown) sayDisconnected();
  }
}

/**
 * Connects (to `servers`, in that order) and sets up the desired-state watch and the status
 * bucket within a bound. `first`: the session's own connect (its set-up bound grows with each one
 * given up in a row); a move's does not count.
 */
async function openParts(
  ctx: LinkContext,
  id: NodeIdentity,
  servers: readonly string[],
  first: boolean,
): Promise<Parts> {
  const { conn: c, set, scheduler } = ctx;
  const conn = await connectAsNode(id, {
    servers: [...servers],
    noRandomize: true,
    reconnect: false,
    maxReconnectAttempts: 0,
    timeoutMs: set.connectTimeoutMs ?? linkDefaults.connectTimeoutMs,
    // A link that dies silently is noticed within three heartbeat periods (a ping per period,
    // closed at the second unanswered one): 30 s by default, inside the default offline
    // threshold of 90 s, instead of the client's 4 to 6 minutes (docs/fault-suite.md).
    pingIntervalMs: set.heartbeatMs ?? linkDefaults.heartbeatMs,
  }).catch((e: unknown) => {
    // Which step failed is what an admin (and a benchmark's tally) needs: nats.js says only
    // "timeout" for a connect and for a request alike.
    throw new Error(`connect: ${messageOf(e)}`, { cause: e });
  });
  // stop() closes the session's connection while it is being set up (a move's is closed after).
  if (first) c.nc = conn;
  const w = desiredWatch(ctx, id, conn);
  // The set-up (trust read, desired-state consumer, status bucket) is bounded: on a broker too
  // busy to answer, a set-up that waits for ever holds a connection and a half-made consumer
  // while the agent's retries add more (seen with 10,000 agents started at once). Closing the
  // connection fails whatever is still pending, and the catch below cleans up.
  // The bound doubles with each set-up given up in a row (up to 2 min): on a broker working
  // through a backlog (10,000 agents after a restart), abandoning set-ups at a fixed bound
  // throws away the work queued for them and queues it again, and nobody finishes.
  const setupMs = Math.min(
    maxSetupMs,
    3 * (set.connectTimeoutMs ?? linkDefaults.connectTimeoutMs) * 2 ** c.setupTimeouts,
  );
  let setupTimer: TimerHandle | undefined;
  try {
    const nodes = await Promise.race([
      (async () => {
        if (c.stopped) throw new Error('the link is stopping');
        await w.start();
        return new Kvm(conn).open(buckets.nodes);
      })(),
      new Promise<never>((_, reject) => {
        setupTimer = scheduler.after(setupMs, () => {
          if (first) c.setupTimeouts++;
          reject(new TimeoutError(`session set-up took longer than ${setupMs} ms`, setupMs));
          void conn.close().catch(() => undefined);
        });
      }),
    ]).finally(() => setupTimer?.cancel());
    return { conn, watch: w, nodes };
  } catch (e) {
    // The session's connection is no longer this one: stop() and the status must not see it.
    if (first && c.nc === conn) c.nc = undefined;
    await closeParts({ conn, watch: w });
    const m = messageOf(e);
    throw m.startsWith('session set-up') ? e : new Error(`session set-up: ${m}`, { cause: e });
  }
}

/** What nats.js said when a connection closed (`closed()` resolves with the error, if any). */
function closeReason(err: void | Error): string {
  return err instanceof Error ? messageOf(err).replace(/\s+/g, ' ').slice(0, 200) : '';
}

async function closeParts(p: Pick<Parts, 'conn' | 'watch'>): Promise<void> {
  await p.watch.stop().catch(() => undefined);
  await p.conn.close().catch(() => undefined);
}

/** Calls `then` once, when the server of `conn` announces lame-duck mode. */
function watchLameDuck(conn: NatsConnection, then: () => void): void {
  void (async () => {
    for await (const st of conn.status())
      if (st.type === 'ldm') {
        then();
        return;
      }
  })().catch(() => undefined);
}

/** The desired-state watch of one connection: verify gate -> reconciler, trust store follower. */
function desiredWatch(ctx: LinkContext, id: NodeIdentity, conn: NatsConnection): DesiredWatch {
  const { conn: c, set, log, scheduler, reconciler, reporter } = ctx;
  // A node whose stored store would not load (lost or damaged file) takes the published one,
  // as it did at enrolment: signed by a key the store itself lists (or a pinned key).
  if (!c.trust) log('warn', 'link', 'no usable trust store here: taking the one the controllers publish');
  return new DesiredWatch({
    nc: conn,
    nodeId: id.nodeId,
    trust: c.trust,
    ...(set.pinnedKeyIds && { pinnedKeyIds: set.pinnedKeyIds }),
    clock: ctx.o.clock,
    applied: reconciler.applied,
    appliedRaw: reconciler.appliedRaw(),
    unheld: reconciler.unheld,
    ...(set.maxSkewMs !== undefined && { maxSkewMs: set.maxSkewMs }),
    ...(set.trustRefreshMs !== undefined && { trustRefreshMs: set.trustRefreshMs }),
    ...(set.desiredRecheckMs !== undefined && { desiredRecheckMs: set.desiredRecheckMs }),
    scheduler,
    log: (level, msg) => log(level, 'link', msg),
    credential: credentialName(id.nodeId, id.credsPath),
    desiredPacing: ctx.desiredPacing,
    onBundle: (b, meta) => reconciler.accept(b, meta),
    onRemoved: (label, revision) => reconciler.remove(label, revision),
    onTrust: (store, raw) => {
      c.trust = store;
      // One write after another, so the file ends with the last store accepted: revoking the
      // only trusted key publishes two stores at once (the first signed by the key it revokes,
      // which does not load on its own), and the second must be what a restart reads.
      c.trustWrites = c.trustWrites
        .then(() => writeFileAtomic(id.trustStorePath, raw, 0o600))
        .catch((e: unknown) => log('error', 'link', `cannot persist the trust store: ${messageOf(e)}`));
    },
    publish: (e) => reporter.emit(e),
    onEvent: (kind: NodeEventKind, reason: string, label?: string) => {
      if (kind === 'bundle-refused') {
        ctx.refusals.set(reason, (ctx.refusals.get(reason) ?? 0) + 1);
        // The snapshot's counters changed: pushed, not left to the reporter's slow scan.
        ctx.reporter.poke();
      }
      if (kind.endsWith('-refused')) log('warn', label ?? 'link', `${kind}: ${reason}`);
    },
  });
}
