/**
 * The enrolled node's NATS connection: its own credentials, and the inbox prefix its
 * permissions allow (`_I.<nodeId>`). By default the client reconnects forever with its own
 * (additive) jitter; the fleet link turns that off (`reconnect: false`) and reconnects itself
 * with full-jitter exponential backoff (core/backoff.ts explains why).
 */
import { readFile } from 'node:fs/promises';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { subjects, encodeNodeEvent, type NodeEvent, boundedDetail } from '@launchfleet/shared/messages';
import { type NodeIdentity, nonceSigner } from './credentials.ts';
import { guardNatsTransport } from '@launchfleet/shared/nats-write-guard';

// A write to a socket the server ended must not end the agent (shared/src/nats-write-guard.ts).
guardNatsTransport();

export interface NodeConnectOptions {
  readonly servers: string | string[];
  /** Try the servers in the order given (the node's preference), not shuffled. Default false. */
  readonly noRandomize?: boolean;
  /** Reconnect attempts; -1 = forever (default). */
  readonly maxReconnectAttempts?: number;
  readonly reconnectTimeWaitMs?: number;
  /** false: the connection closes when it is lost (the caller reconnects). Default true. */
  readonly reconnect?: boolean;
  /** Connect timeout. Default: the client's (20 s). */
  readonly timeoutMs?: number;
  /**
   * How often the client pings the server; two unanswered pings close the connection. Default:
   * the client's 2 minutes, which lets a link that died silently (no FIN, no RST) go unnoticed
   * for 4 to 6 minutes. The fleet link sets it to its heartbeat period.
   */
  readonly pingIntervalMs?: number;
}

/** Connects as the enrolled node. */
export async function connectAsNode(id: NodeIdentity, o: NodeConnectOptions): Promise<NatsConnection> {
  const creds = await readFile(id.credsPath);
  return connect({
    servers: o.servers,
    authenticator: nonceSigner(new Uint8Array(creds)),
    inboxPrefix: subjects.nodeInboxPrefix(id.nodeId),
    name: id.nodeId,
    maxReconnectAttempts: o.maxReconnectAttempts ?? -1,
    reconnectTimeWait: o.reconnectTimeWaitMs ?? 2000,
    reconnectJitter: 1000,
    // nats.js otherwise builds an Error (a stack trace) for every request and subscription
    // timer, in case it fails: 6-8 % of an agent's CPU for one apply, plus the garbage
    // (test/bench/FLEET-RESULTS.md). Failures still carry their message and cause.
    noAsyncTraces: true,
    ...(o.reconnect === false && { reconnect: false }),
    ...(o.noRandomize === true && { noRandomize: true }),
    ...(o.timeoutMs !== undefined && { timeout: o.timeoutMs }),
    ...(o.pingIntervalMs !== undefined && { pingInterval: o.pingIntervalMs, maxPingOut: 2 }),
  });
}

/** Publishes one of this node's events to the events stream (awaits the stream's ack). */
export async function publishNodeEvent(
  nc: NatsConnection,
  nodeId: string,
  e: Omit<NodeEvent, 'source'>,
  ts: number,
): Promise<void> {
  const ev: NodeEvent = {
    ...e,
    source: nodeId,
    ...(e.detail !== undefined && { detail: boundedDetail(e.detail) }),
  };
  await jetstream(nc).publish(subjects.event(nodeId, e.kind), encodeNodeEvent(ev, ts));
}
