/**
 * One session of the fleet link: connect as the node, set up the desired-state watch (verify
 * gate -> reconciler) and the status bucket within a bound, attach the reporter and the
 * credential renewal, and hold until the connection closes or the watch ends. Resolves when the
 * session is over (cleaned up); rejects when it could not be set up. The connection state
 * (link-context.ts) says how it ended (`connects`, `lostBroker`, `lameDuck`), which the loop
 * turns into its next wait (core/link-loop.ts).
 */
import { Kvm } from '@nats-io/kv';
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

/** The longest a session set-up may take, however many were given up before it. */
const maxSetupMs = 120_000;

/** Runs one session as `id` (see above). */
export async function runSession(ctx: LinkContext, id: NodeIdentity): Promise<void> {
  const { conn: c, set, log, scheduler, reconciler, reporter } = ctx;
  c.state = 'connecting';
  c.lostBroker = false;
  const conn = await connectAsNode(id, {
    servers: [...ctx.controller.natsUrls],
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
  c.nc = conn;
  c.lameDuck = false;
  void (async () => {
    for await (const st of conn.status())
      if (st.type === 'ldm' && !c.lameDuck) {
        c.lameDuck = true;
        log(
          'info',
          'link',
          `${conn.getServer()} entered lame-duck mode; reconnecting elsewhere when it closes`,
        );
      }
  })().catch(() => undefined);
  const startedAt = ctx.o.clock.monotonicMs();
  try {
    // stop() ran while this connection was being made: it closed nothing, so close it here,
    // or the session would live on and stop() would wait for it forever.
    if (c.stopped) return;
    // A node whose stored store would not load (lost or damaged file) takes the published one,
    // as it did at enrolment: signed by a key the store itself lists (or a pinned key).
    if (!c.trust) log('warn', 'link', 'no usable trust store here: taking the one the controllers publish');
    const w = new DesiredWatch({
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
    // The set-up (trust read, desired-state consumer, status bucket) is bounded: on a broker too
    // busy to answer, a set-up that waits for ever holds a connection and a half-made consumer
    // while the agent's retries add more (seen with 10,000 agents started at once). Closing the
    // connection fails whatever is still pending, and the finally below cleans up.
    // The bound doubles with each set-up given up in a row (up to 2 min): on a broker working
    // through a backlog (10,000 agents after a restart), abandoning set-ups at a fixed bound
    // throws away the work queued for them and queues it again, and nobody finishes.
    const setupMs = Math.min(
      maxSetupMs,
      3 * (set.connectTimeoutMs ?? linkDefaults.connectTimeoutMs) * 2 ** c.setupTimeouts,
    );
    let setupTimer: TimerHandle | undefined;
    const nodes = await Promise.race([
      (async () => {
        await w.start();
        c.watch = w;
        return new Kvm(conn).open(buckets.nodes);
      })(),
      new Promise<never>((_, reject) => {
        setupTimer = scheduler.after(setupMs, () => {
          c.setupTimeouts++;
          reject(new TimeoutError(`session set-up took longer than ${setupMs} ms`, setupMs));
          void conn.close().catch(() => undefined);
        });
      }),
    ])
      .catch((e: unknown) => {
        const m = messageOf(e);
        throw m.startsWith('session set-up') ? e : new Error(`session set-up: ${m}`, { cause: e });
      })
      .finally(() => setupTimer?.cancel());
    c.setupTimeouts = 0;
    c.connects++;
    c.state = 'connected';
    c.lastError = undefined;
    log('info', 'link', `connected to ${conn.getServer()} as ${id.nodeId}`);
    reporter.attach(conn, nodes);
    c.renewal?.attach(conn);
    await Promise.race([conn.closed(), w.ended()]);
    c.lostBroker = conn.isClosed();
    // A watch that ended on an open connection would leave the node deaf: start over.
    if (!conn.isClosed()) log('warn', 'link', 'the desired-state watch ended; reconnecting');
  } finally {
    c.renewal?.detach();
    reporter.detach();
    await c.watch?.stop().catch(() => undefined);
    c.watch = undefined;
    c.nc = undefined;
    await conn.close().catch(() => undefined);
    if (!c.stopped)
      log(
        'warn',
        'link',
        `disconnected after ${Math.round((ctx.o.clock.monotonicMs() - startedAt) / 1000)} s`,
      );
  }
}
