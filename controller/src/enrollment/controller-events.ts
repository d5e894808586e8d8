/**
 * The controller's own events in LF_EVENTS (`lf.events.controller.<kind>`): enrolment and
 * renewal refusals, renewals, control-plane errors. Best effort: the caller has already acted
 * (answered the request), so a failed publish loses a record, never a decision.
 */
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Clock } from '@launchfleet/shared';
import {
  type NodeEventKind,
  boundedDetail,
  controllerEventSource,
  encodeNodeEvent,
  subjects,
} from '@launchfleet/shared/messages';

/** Publishes one controller event; never throws. */
export function publishControllerEvent(
  nc: NatsConnection,
  clock: Clock,
  kind: NodeEventKind,
  reason: string,
  detail: string,
): void {
  const data = encodeNodeEvent(
    { source: controllerEventSource, kind, reason, detail: boundedDetail(detail) },
    clock.wallMs(),
  );
  jetstream(nc)
    .publish(subjects.event(controllerEventSource, kind), data)
    .catch(() => {
      // events are best effort; the request itself was answered
    });
}
