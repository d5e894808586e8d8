/**
 * Heartbeats (`lf.hb.<nodeId>`): every `heartbeatMs` plus up to 20 % random spread, so nodes that
 * came up together do not beat in lock-step. Each beat carries the node's health; after it, the
 * status and inventory puts are refreshed when due (`onBeat`).
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { messageOf } from '@launchfleet/shared/errors';
import type { TimerHandle } from '@launchfleet/shared/clock';
import { encodeHeartbeat, subjects, type NodeHealth } from '@launchfleet/shared/messages';
import { jitteredPeriod } from '../core/backoff.ts';
import type { ReporterStats, ReportingContext } from './reporting-context.ts';

export interface HeartbeatOptions extends ReportingContext {
  readonly heartbeatMs: number;
  readonly random: () => number;
  /** The node's health now (from its status snapshot). */
  readonly health: () => NodeHealth;
  /** After each beat (sent or not). */
  readonly onBeat: () => void;
  readonly stats: Pick<ReporterStats, 'heartbeats'>;
}

export class Heartbeat {
  readonly #o: HeartbeatOptions;
  #nc: NatsConnection | undefined;
  #timer: TimerHandle | undefined;
  #seq = 0;
  #stopped = false;

  constructor(o: HeartbeatOptions) {
    this.#o = o;
  }

  /** A new connection: beat now, then every period. */
  attach(nc: NatsConnection): void {
    this.#nc = nc;
    this.#arm(0);
  }

  detach(): void {
    this.#nc = undefined;
    this.#timer?.cancel();
  }

  /** No more beats scheduled (the agent is stopping). */
  stop(): void {
    this.#stopped = true;
  }

  #arm(delayMs: number): void {
    if (this.#stopped || !this.#nc) return;
    this.#timer?.cancel();
    this.#timer = this.#o.scheduler.after(delayMs, () => {
      const nc = this.#nc;
      if (!nc) return;
      try {
        const nodeId = this.#o.nodeId();
        nc.publish(
          subjects.heartbeat(nodeId),
          encodeHeartbeat(
            { nodeId, seq: this.#seq++, health: this.#o.health(), intervalMs: this.#o.heartbeatMs },
            this.#o.clock.wallMs(),
          ),
        );
        this.#o.stats.heartbeats++;
      } catch (e) {
        this.#o.log('debug', 'link', `heartbeat failed: ${messageOf(e)}`);
      }
      this.#o.onBeat();
      this.#arm(jitteredPeriod(this.#o.heartbeatMs, 0.2, this.#o.random()));
    });
  }
}
