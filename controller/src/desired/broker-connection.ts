/**
 * Whether a NATS connection is up right now, from its status events. nats.js keeps what is
 * published while it reconnects and sends it once a server is back; for a desired-state write
 * that means a write whose caller already heard "the broker did not answer" can still land
 * minutes later (the fault suite saw an apply reported as failed change the job record after
 * quorum returned: docs/fault-suite.md). The desired-state service asks this before each write.
 */
import type { NatsConnection } from '@nats-io/transport-node';

export function trackBrokerConnection(nc: NatsConnection): () => boolean {
  let up = true;
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') up = false;
      else if (s.type === 'reconnect') up = true;
    }
  })().catch(() => undefined);
  return () => up && !nc.isClosed();
}
