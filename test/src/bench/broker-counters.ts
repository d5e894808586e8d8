/**
 * What the broker itself says the fleet asked of JetStream, for the fleet benchmark: the
 * advisories of the fleet account (every JetStream API request is audited with its client's
 * connection name, an agent's being its node id; every consumer created; requests dropped past
 * the API queue limit) and each server's `/jsz` (API requests and errors, consumers now).
 *
 * The advisory connection reconnects by itself; advisories published while it is away (the
 * first second after a broker restart) are not seen, which the printout says.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { JsAdvisories, isAgentConnection } from '../support/js-advisories.ts';

/** Counters at one instant. */
export interface BrokerSnapshot {
  /** JetStream API requests by agent connections (audit advisories). */
  readonly agentApi: number;
  /** Of those, consumer creations. */
  readonly agentConsumerCreates: number;
  /** Every audited API request (controller, observers, agents). */
  readonly api: number;
  /** Consumers created (advisories), by anyone. */
  readonly consumersCreated: number;
  /** API requests dropped past the queue limit (2.10.21+). */
  readonly limitReached: number;
  /** `/jsz`, summed over the servers: API requests and errors since each server started, consumers now. */
  readonly jsz: { readonly apiTotal: number; readonly apiErrors: number; readonly consumers: number };
  /** How many API audits had been seen (to break a phase down by client). */
  readonly auditIndex: number;
}

export class BrokerCounters {
  readonly #nc: NatsConnection;
  readonly #adv: JsAdvisories;
  readonly #monitorPorts: () => readonly number[];

  private constructor(nc: NatsConnection, monitorPorts: () => readonly number[]) {
    this.#nc = nc;
    this.#adv = new JsAdvisories(nc);
    this.#monitorPorts = monitorPorts;
  }

  static async start(
    urls: readonly string[],
    creds: Uint8Array,
    monitorPorts: () => readonly number[],
  ): Promise<BrokerCounters> {
    const nc = await connect({
      servers: [...urls],
      authenticator: credsAuthenticator(creds),
      name: 'bench-advisories',
      maxReconnectAttempts: -1,
      reconnectTimeWait: 100,
    });
    const b = new BrokerCounters(nc, monitorPorts);
    await nc.flush();
    return b;
  }

  /** A stream's last sequence (messages ever stored, whatever the retention kept). */
  async streamLastSeq(name: string): Promise<number> {
    const jsm = await jetstreamManager(this.#nc);
    return (await jsm.streams.info(name)).state.last_seq;
  }

  /** Counts core messages on `subject` from now on; `count()` reads, `stop()` ends. */
  counter(subject: string): { count(): number; stop(): void } {
    let n = 0;
    const sub = this.#nc.subscribe(subject, { callback: () => void n++ });
    return { count: () => n, stop: () => sub.unsubscribe() };
  }

  async snapshot(): Promise<BrokerSnapshot> {
    await this.#nc.flush().catch(() => undefined);
    const a = this.#adv;
    const agent = a.apiBy(isAgentConnection);
    const jsz = { apiTotal: 0, apiErrors: 0, consumers: 0 };
    for (const port of this.#monitorPorts()) {
      try {
        const r = await fetch(`http://127.0.0.1:${port}/jsz`, { signal: AbortSignal.timeout(10_000) });
        const j = (await r.json()) as { api?: { total?: number; errors?: number }; consumers?: number };
        jsz.apiTotal += j.api?.total ?? 0;
        jsz.apiErrors += j.api?.errors ?? 0;
        jsz.consumers += j.consumers ?? 0;
      } catch {
        // a server restarting: counted as nothing
      }
    }
    return {
      agentApi: agent.length,
      agentConsumerCreates: agent.filter((x) => x.subject.startsWith('$JS.API.CONSUMER.CREATE')).length,
      api: a.api.length,
      consumersCreated: a.consumersCreated.length,
      limitReached: a.limitReached,
      jsz,
      auditIndex: a.api.length,
    };
  }

  /** Consumer creations by client connection name (who holds the broker's consumers). */
  consumerCreatorsFrom(index: number): Record<string, number> {
    const out: Record<string, number> = {};
    for (const x of this.#adv.api.slice(index)) {
      if (!x.subject.startsWith('$JS.API.CONSUMER.CREATE')) continue;
      const who = isAgentConnection(x.client) ? 'agents' : x.client;
      const stream = x.subject.split('.')[4] ?? '?';
      const k = `${who} on ${stream}`;
      out[k] = (out[k] ?? 0) + 1;
    }
    return out;
  }

  /** The subjects agents asked the API for, with counts (to say what they were). */
  agentSubjects(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const x of this.#adv.apiBy(isAgentConnection)) {
      const kind = x.subject.split('.').slice(0, 4).join('.');
      out[kind] = (out[kind] ?? 0) + 1;
    }
    return out;
  }

  async close(): Promise<void> {
    this.#adv.stop();
    await this.#nc.close().catch(() => undefined);
  }
}

/** What happened between two snapshots, per agent (for the printout and the results file). */
export function perAgent(a: BrokerSnapshot, b: BrokerSnapshot, agents: number): Record<string, number> {
  const d = (x: number, y: number): number => y - x;
  return {
    agentApiRequests: d(a.agentApi, b.agentApi),
    agentApiRequestsPerAgent: d(a.agentApi, b.agentApi) / agents,
    agentConsumerCreates: d(a.agentConsumerCreates, b.agentConsumerCreates),
    consumersCreated: d(a.consumersCreated, b.consumersCreated),
    apiRequestsAll: d(a.api, b.api),
    limitReached: d(a.limitReached, b.limitReached),
    // /jsz counts restart from zero with a server: a negative difference means a restart.
    jszApiTotal: b.jsz.apiTotal >= a.jsz.apiTotal ? d(a.jsz.apiTotal, b.jsz.apiTotal) : b.jsz.apiTotal,
    jszApiErrors: b.jsz.apiErrors >= a.jsz.apiErrors ? d(a.jsz.apiErrors, b.jsz.apiErrors) : b.jsz.apiErrors,
    consumersNow: b.jsz.consumers,
  };
}
