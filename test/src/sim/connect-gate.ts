/**
 * Simulator-only: an admission gate on NATS connects in THIS process (`--connect-gate N`).
 *
 * Why: a real agent authenticates on its own machine; a simulator hosts thousands of agents on
 * one event loop. When more of them connect at once than the loop can serve, each handshake
 * waits behind the others, misses the broker's 2-s authentication window (`Authentication
 * Timeout`), backs off and tries again: a retry storm the simulator makes itself, which is what
 * stopped every 20,000-agent attempt on this 2-core box (test/bench/FLEET-RESULTS.md). The gate
 * admits a connect only while fewer than N are in flight and the loop's recent delay is under
 * a bound (one at a time while it is over); the rest wait their turn in order. A waiting agent
 * is not failing: the time it waits is the simulator's, and is reported (`waitedMsMax`) so
 * that a result says how much of a latency the gate made.
 *
 * It wraps `NatsConnectionImpl.connect` of @nats-io/nats-core, which every connect of
 * @nats-io/transport-node goes through (the node's sessions and its enrolment connect; the
 * client's own reconnects do not, and the fleet link does not use them). Off by default: the
 * benchmark's published restart waves were measured without it.
 */
import { createRequire } from 'node:module';

export interface ConnectGateOptions {
  /** Connects in flight at most (TCP, INFO, nonce signature, CONNECT, PING/PONG). */
  readonly maxInFlight: number;
  /** Admit nothing new while the loop's delay over the last sample exceeds this (ms). */
  readonly maxLagMs: number;
}

export interface ConnectGateStats {
  readonly inFlight: number;
  readonly waiting: number;
  readonly admitted: number;
  /** The longest any connect waited at the gate so far (ms). */
  readonly waitedMsMax: number;
}

interface ConnectImpl {
  connect: (this: unknown, opts?: unknown) => Promise<unknown>;
}

const sampleMs = 50;
let gate: { stats(): ConnectGateStats } | undefined;

/** Installs the gate once per process; later calls return the first gate's stats. */
export function installConnectGate(o: ConnectGateOptions): () => ConnectGateStats {
  const first = gate;
  if (first) return () => first.stats();
  const req = createRequire(createRequire(import.meta.url).resolve('@nats-io/transport-node'));
  const core = req('@nats-io/nats-core/internal') as { NatsConnectionImpl: ConnectImpl };
  const impl = core.NatsConnectionImpl;
  const original = impl.connect;

  let inFlight = 0;
  let admitted = 0;
  let waitedMsMax = 0;
  let lagMs = 0;
  const queue: { at: number; go: () => void }[] = [];

  // One connect is always let through when none is in flight, so a loop that stays behind (a
  // simulator whose idle work alone fills its share of the CPU) still makes progress, one
  // agent at a time, instead of holding every waiting agent for good.
  const drain = (): void => {
    while (queue.length > 0 && inFlight < o.maxInFlight && (lagMs <= o.maxLagMs || inFlight === 0)) {
      const w = queue.shift()!;
      waitedMsMax = Math.max(waitedMsMax, Date.now() - w.at);
      inFlight++;
      admitted++;
      w.go();
    }
  };
  // The loop's delay: how late a fixed-period timer fires (a timer, so it sees what a
  // handshake's socket callbacks see). Unref'd: the gate never keeps the process alive.
  let expected = Date.now() + sampleMs;
  setInterval(() => {
    const now = Date.now();
    lagMs = Math.max(0, now - expected);
    expected = now + sampleMs;
    drain();
  }, sampleMs).unref();

  impl.connect = function gatedConnect(this: unknown, opts?: unknown): Promise<unknown> {
    return new Promise<void>((go) => {
      queue.push({ at: Date.now(), go });
      drain();
    }).then(() =>
      original.call(this, opts).finally(() => {
        inFlight--;
        drain();
      }),
    );
  };
  const g = {
    stats: (): ConnectGateStats => ({ inFlight, waiting: queue.length, admitted, waitedMsMax }),
  };
  gate = g;
  return () => g.stats();
}
