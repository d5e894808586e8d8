/**
 * Reading Launchfleet events back from the `LF_EVENTS` stream, as the controller would.
 */
import { jetstream, DeliverPolicy } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { type NodeEvent, decodeNodeEvent, eventsStream, subjects } from '@launchfleet/shared/messages';

/** Waits until the events of `source` satisfy `done`, or fails after `timeoutMs`. */
export async function waitForEvents(
  nc: NatsConnection,
  source: string,
  done: (events: readonly NodeEvent[]) => boolean,
  timeoutMs = 10_000,
): Promise<NodeEvent[]> {
  const js = jetstream(nc);
  const consumer = await js.consumers.get(eventsStream.name, {
    filter_subjects: subjects.eventsOf(source),
    deliver_policy: DeliverPolicy.All,
  });
  const events: NodeEvent[] = [];
  const deadline = Date.now() + timeoutMs;
  try {
    while (Date.now() < deadline) {
      const m = await consumer.next({ expires: 1000 });
      if (m) {
        const e = decodeNodeEvent(m.data);
        if (e.ok) events.push(e.value);
      }
      if (done(events)) return events;
    }
  } finally {
    await Promise.resolve()
      .then(() => consumer.delete())
      .catch(() => undefined);
  }
  throw new Error(`timed out waiting for events of ${source}; got ${JSON.stringify(events)}`);
}

/** Resolves with the first error the server reports on a connection (e.g. a revocation), bounded. */
export function firstServerError(nc: NatsConnection, timeoutMs = 15_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no server error within ${timeoutMs} ms`)), timeoutMs);
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'error') {
          clearTimeout(t);
          resolve(String(s.error));
          return;
        }
      }
    })();
  });
}
