/**
 * The broker's own account of what JetStream was asked to do: every advisory nats-server
 * publishes in an account (`$JS.EVENT.ADVISORY.>`). A consumer created is
 * `CONSUMER.CREATED.<stream>.<consumer>`; every JetStream API request is audited on
 * `$JS.EVENT.ADVISORY.API` with the requesting client's connection name (an agent's is its node
 * id); a request dropped past the API queue limit (2.10.21+) is `API.LIMIT_REACHED`. Direct gets
 * are served by the stream, not the API, and are never audited.
 *
 * Used by the suites that must fail when an agent creates a consumer or makes an API request,
 * and by the fleet benchmark to print them per agent.
 */
import type { NatsConnection, Subscription } from '@nats-io/transport-node';

export interface ApiAudit {
  readonly subject: string;
  readonly client: string;
}

export class JsAdvisories {
  readonly consumersCreated: { readonly stream: string; readonly consumer: string }[] = [];
  readonly api: ApiAudit[] = [];
  limitReached = 0;
  readonly #sub: Subscription;

  constructor(nc: NatsConnection) {
    this.#sub = nc.subscribe('$JS.EVENT.ADVISORY.>', {
      callback: (_e, m) => {
        const t = m.subject.split('.');
        if (m.subject.startsWith('$JS.EVENT.ADVISORY.CONSUMER.CREATED.'))
          this.consumersCreated.push({ stream: t[5] ?? '', consumer: t.slice(6).join('.') });
        else if (m.subject === '$JS.EVENT.ADVISORY.API') {
          try {
            const j = JSON.parse(m.string()) as { subject?: string; client?: { name?: string } };
            this.api.push({ subject: j.subject ?? '', client: j.client?.name ?? '' });
          } catch {
            this.api.push({ subject: '?', client: '?' });
          }
        } else if (m.subject.startsWith('$JS.EVENT.ADVISORY.API.LIMIT_REACHED')) this.limitReached++;
      },
    });
  }

  /** API requests made by connections whose name `matches`. */
  apiBy(matches: (client: string) => boolean): ApiAudit[] {
    return this.api.filter((a) => matches(a.client));
  }

  /** Waits until the subscription is registered at the broker. */
  async ready(nc: NatsConnection): Promise<void> {
    await nc.flush();
  }

  stop(): void {
    this.#sub.unsubscribe();
  }
}

/** True for an agent's connection name (its node id). */
export function isAgentConnection(name: string): boolean {
  return /^n[a-z2-7]{20}$/.test(name);
}
