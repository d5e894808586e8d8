/**
 * The live status query (`lf.q.<nodeId>.status`): answers with the node's current snapshot.
 * `renew` on the same subjects is credential-renewal.ts's; any other query, or one over
 * `maxQueryBytes`, is refused with a `node.error` reply and a `message-refused` event.
 */
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { messageOf } from '@launchfleet/shared/errors';
import {
  boundedDetail,
  encodeEnvelope,
  encodeNodeStatus,
  subjects,
  type NodeStatus,
} from '@launchfleet/shared/messages';
import type { OutboxEvent } from './event-outbox.ts';
import type { ReporterStats, ReportingContext } from './reporting-context.ts';

const maxQueryBytes = 64 * 1024;

export interface StatusQueryOptions extends ReportingContext {
  readonly snapshot: () => NodeStatus;
  /** Where a refusal's `message-refused` event goes (the outbox). */
  readonly emit: (e: OutboxEvent) => void;
  readonly stats: Pick<ReporterStats, 'queriesRefused'>;
}

export class StatusQuery {
  readonly #o: StatusQueryOptions;
  #sub: Subscription | undefined;

  constructor(o: StatusQueryOptions) {
    this.#o = o;
  }

  /** Subscribes on a new connection (a failure is logged: the rest of the link still works). */
  attach(nc: NatsConnection): void {
    this.#sub = undefined;
    try {
      this.#sub = nc.subscribe(subjects.queriesOf(this.#o.nodeId()), {
        callback: (err, m) => {
          if (err) return;
          this.#onQuery(m.subject, m.data, (d) => m.respond(d));
        },
      });
    } catch (e) {
      this.#o.log('warn', 'link', `cannot subscribe to queries: ${messageOf(e)}`);
    }
  }

  detach(): void {
    const sub = this.#sub;
    this.#sub = undefined;
    try {
      sub?.unsubscribe();
    } catch {
      // the connection is closed already
    }
  }

  #onQuery(subject: string, data: Uint8Array, respond: (d: Uint8Array) => boolean): void {
    const prefix = `lf.q.${this.#o.nodeId()}.`;
    const query = subject.startsWith(prefix) ? subject.slice(prefix.length) : '';
    if (query === 'renew') return; // credential-renewal.ts answers it
    const now = this.#o.clock.wallMs();
    const refuse = (reason: string, detail: string): void => {
      this.#o.stats.queriesRefused++;
      this.#o.log('warn', 'link', `query ${query.slice(0, 64)} refused: ${reason}: ${detail}`);
      this.#o.emit({
        kind: 'message-refused',
        reason,
        detail: boundedDetail(`query ${query.slice(0, 64)}: ${detail}`),
      });
      try {
        respond(encodeEnvelope('node.error', now, { error: reason, detail }));
      } catch {
        // no reply subject, or the connection is gone
      }
    };
    if (data.byteLength > maxQueryBytes)
      return refuse('oversized', `${data.byteLength} bytes > ${maxQueryBytes}`);
    if (query !== 'status') return refuse('unknown-query', 'this agent answers: status');
    try {
      respond(encodeNodeStatus(this.#o.snapshot(), now));
    } catch (e) {
      this.#o.log('warn', 'link', `query reply failed: ${messageOf(e)}`);
    }
  }
}
