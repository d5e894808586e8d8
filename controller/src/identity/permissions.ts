/**
 * Who may publish and subscribe to what, as NATS user permissions (pure; unit-tested).
 *
 * A node (`n…`) may:
 *   - read its own desired state: direct get of `$KV.lf_desired.<nodeId>.>` and create a
 *     consumer whose filter is exactly that (2.9's `$JS.API.CONSUMER.CREATE.<stream>.<name>.<filter>`
 *     form: the server refuses a payload filter that differs from the subject's filter, so the
 *     subject permission is the filter permission);
 *   - read the trust store (key `store` of `lf_trust`) by direct get, and follow it by a core
 *     subscription to exactly `$KV.lf_trust.store` (a KV put is a publish on that subject): no
 *     consumer on `lf_trust`, so no consumer-create or flow-control rights there;
 *   - put its own `lf_nodes` keys, publish its own events and heartbeats, and request the
 *     renewal of its own credentials on `lf.renew.<nodeId>` (only the controller listens there);
 *   - receive on its own inbox prefix `_I.<nodeId>.>`, on its query subjects, on the trust
 *     store's key subject and on its own desired-state subjects `$KV.lf_desired.<nodeId>.>` (the
 *     agent follows its bundles by that core subscription and direct gets, without a consumer
 *     that nats-server 2.9 would make scan the stream; never another node's, nor a wildcard
 *     over nodes), and answer requests it received (allow_responses).
 * Everything else is denied by omission: no `$JS.API.STREAM.*` (stream info with a subject
 * filter would list other nodes' keys; payload-form `STREAM.MSG.GET` and `DIRECT.GET` could
 * fetch any key), no un-filtered consumer creation, no consumer deletion, no `>`.
 *
 * The bootstrap ("enroll") user may publish only `lf.enroll` and receive only on `_E.>`.
 * The controller has no restrictions inside the fleet account.
 */
import { buckets, jsApi, keys, kvStreamName, kvSubject, subjects } from '@launchfleet/shared/messages';

/** A NATS user's permissions (the `pub`/`sub`/`resp` claims of a user JWT). */
export interface UserPermissions {
  readonly pub: { readonly allow: readonly string[]; readonly deny: readonly string[] };
  readonly sub: { readonly allow: readonly string[]; readonly deny: readonly string[] };
  /** allow_responses: may publish to reply subjects of messages it received. */
  readonly resp?: { readonly max: number; readonly ttl: number };
}

/** The subject that direct-gets one KV key (or the last value under a key filter), and nothing else. */
export function kvGetSubject(bucket: 'lf_desired' | 'lf_trust', keyFilter: string): string {
  return `${jsApi}.DIRECT.GET.${kvStreamName(bucket)}.${kvSubject(bucket, keyFilter)}`;
}

/** The subjects that read and watch one KV key (or key filter) of a bucket, and nothing else. */
export function kvReadSubjects(bucket: 'lf_desired' | 'lf_trust', keyFilter: string): string[] {
  const stream = kvStreamName(bucket);
  return [
    kvGetSubject(bucket, keyFilter),
    `${jsApi}.CONSUMER.CREATE.${stream}.*.${kvSubject(bucket, keyFilter)}`,
    // Flow-control replies of the push consumers a watch uses.
    `$JS.FC.${stream}.>`,
  ];
}

/** Permissions of one enrolled node. `nodeId` must be a valid node id (see `isNodeId`). */
export function nodePermissions(nodeId: string): UserPermissions {
  return {
    pub: {
      allow: [
        ...kvReadSubjects(buckets.desired, keys.desiredOf(nodeId)),
        kvGetSubject(buckets.trust, keys.trustStore),
        kvSubject(buckets.nodes, keys.nodeAll(nodeId)),
        subjects.eventsOf(nodeId),
        subjects.heartbeat(nodeId),
        subjects.renew(nodeId),
      ],
      deny: [],
    },
    sub: {
      allow: [
        `${subjects.nodeInboxPrefix(nodeId)}.>`,
        subjects.queriesOf(nodeId),
        kvSubject(buckets.trust, keys.trustStore),
        kvSubject(buckets.desired, keys.desiredOf(nodeId)),
      ],
      deny: [],
    },
    // One reply per request, within 10 s (ttl in nanoseconds).
    resp: { max: 1, ttl: 10_000_000_000 },
  };
}

/** Permissions of the shared bootstrap user that unenrolled agents use to reach `lf.enroll`. */
export function enrollPermissions(): UserPermissions {
  return {
    pub: { allow: [subjects.enroll], deny: [] },
    sub: { allow: [subjects.enrollInboxAll], deny: [] },
  };
}
