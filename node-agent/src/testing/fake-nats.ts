import { type NatsConnection, errors as natsErrors } from '@nats-io/transport-node';

/**
 * What nats.js makes of the server's answer when these credentials may not publish to `subject`
 * (the rejection of a request, a JetStream publish or a KV operation carries it as its cause).
 */
export function publishDenied(subject: string): Error {
  const e = natsErrors.PermissionViolationError.parse(`'Permissions Violation for Publish to "${subject}"'`);
  if (!e) throw new Error("nats.js no longer recognises the server's permission violation");
  return e;
}

/**
 * A NATS connection, never closed, whose JetStream publishes (requests) are acked by the
 * `LF_EVENTS` stream, or rejected with what `answer` returns for the subject; `tries` records
 * every subject tried, in order. Core publishes and subscriptions do nothing.
 */
export function jetStreamConnection(answer: (subject: string) => Error | undefined = () => undefined): {
  nc: NatsConnection;
  tries: string[];
} {
  const tries: string[] = [];
  const ack = { stream: 'LF_EVENTS', seq: 1 };
  const data = new TextEncoder().encode(JSON.stringify(ack));
  const nc = {
    options: { inboxPrefix: '_INBOX' },
    request: (subject: string) => {
      tries.push(subject);
      const e = answer(subject);
      return e
        ? Promise.reject(e)
        : Promise.resolve({ subject: '_INBOX.x', data, headers: undefined, json: () => ack });
    },
    publish: () => undefined,
    subscribe: () => ({ unsubscribe: () => undefined }),
    isClosed: () => false,
  } as unknown as NatsConnection;
  return { nc, tries };
}
