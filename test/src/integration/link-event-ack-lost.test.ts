/**
 * An event whose ack was lost is stored once (docs/fault-suite.md).
 *
 * The agent publishes each event into the `LF_EVENTS` stream until the stream acks it; when the
 * link dies after the broker stored the event but before the ack came back, the agent sends it
 * again after reconnecting. Each event carries a JetStream message id, the same on every attempt
 * (node-agent/src/link/core/event-ids.ts), and the stream has a duplicate window
 * (`eventsStream.duplicateWindowMs`), so the second copy is dropped.
 *
 * Real: nats-server (its stream config made by the controller's provisioning), the agent's fleet
 * link and supervisor (link-node.ts), a TCP proxy between them that passes the agent's first
 * event publish to the broker and then goes silent (the ack never reaches the agent).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { jetstream, jetstreamManager, DeliverPolicy } from '@nats-io/jetstream';
import { type NodeEvent, decodeNodeEvent, eventsStream, subjects } from '@launchfleet/shared/messages';
import { type ControlPlaneHarness, startControlPlane } from '../support/control-plane.ts';
import {
  type LinkNode,
  daemonPlist,
  eventually,
  startLinkNode,
  testLinkSettings,
} from '../support/link-node.ts';
import { EventLog, putJob } from '../support/link-fleet.ts';
import { type TcpProxy, startTcpProxy } from '../support/tcp-proxy.ts';

const label = 'com.acme.ack-lost';

interface Stored {
  readonly seq: number;
  readonly msgId: string | undefined;
  readonly event: NodeEvent;
}

/** What an event says, without when it was sent (a re-send carries a later time). */
const content = (e: NodeEvent): string =>
  JSON.stringify([e.kind, e.label, e.reason, e.detail, e.version, e.jobState, e.counts]);

describe('fleet link: an event whose ack is lost is stored once', () => {
  let cp: ControlPlaneHarness;
  let proxy: TcpProxy;
  let node: LinkNode;
  let nodeId: string;
  let published: EventLog;

  /** Every event of the node the stream holds, in order. */
  const stored = async (): Promise<Stored[]> => {
    const c = await jetstream(cp.nc).consumers.get(eventsStream.name, {
      filter_subjects: subjects.eventsOf(nodeId),
      deliver_policy: DeliverPolicy.All,
    });
    const si = await (
      await jetstreamManager(cp.nc)
    ).streams.info(eventsStream.name, {
      subjects_filter: subjects.eventsOf(nodeId),
    });
    const total = Object.values(si.state.subjects ?? {}).reduce((a, b) => a + b, 0);
    const out: Stored[] = [];
    while (out.length < total) {
      const m = await c.next({ expires: 2000 });
      if (!m) break;
      const d = decodeNodeEvent(m.data);
      assert.ok(d.ok, 'a stored event decodes');
      out.push({ seq: m.seq, msgId: m.headers?.get('Nats-Msg-Id') || undefined, event: d.value });
    }
    await c.delete().catch(() => undefined);
    return out;
  };

  before(async () => {
    cp = await startControlPlane();
    published = new EventLog(cp.nc);
    proxy = await startTcpProxy(cp.servers[0]!.port);
    const { token } = await cp.enrollment.createToken({ ttlMs: 60_000 });
    node = await startLinkNode({
      urls: [proxy.url],
      token,
      enrollCreds: cp.enrollCreds,
      // Pings at the heartbeat (0.5 s): the silent link is noticed in about a second.
      settings: testLinkSettings,
    });
    await eventually(() => node.link.status().connected, 15_000, 'connected');
    nodeId = node.link.status().nodeId ?? '';
  });

  after(async () => {
    await node?.close();
    await proxy?.close();
    await cp?.close();
  });

  test('the events stream has a duplicate window', async () => {
    const si = await (await jetstreamManager(cp.nc)).streams.info(eventsStream.name);
    assert.equal(si.config.duplicate_window, eventsStream.duplicateWindowMs * 1_000_000);
  });

  test('the link goes silent right after an event reached the broker: after the heal it is stored once', async () => {
    await eventually(() => node.link.status().eventsQueued === 0, 15_000, 'start-up events published');
    const before = (await stored()).length;
    // The next event publish reaches the broker; its ack does not come back.
    proxy.silenceAfter(subjects.eventsOf(nodeId).slice(0, -1));
    await putJob(cp, nodeId, { label, version: 1, plist: daemonPlist(label) });
    await eventually(() => !node.link.status().connected, 15_000, 'the agent noticed the silent link');
    // The last event the broker got from the agent is the one whose ack was lost (nothing passes
    // after it; an event published before it was acked normally).
    const first = await eventually(
      async () => (await stored()).slice(before).at(-1),
      15_000,
      'the event stored by the broker',
    );
    assert.equal(
      published.events.filter((e) => e.source === nodeId && content(e) === content(first.event)).length,
      1,
      'sent once so far',
    );
    proxy.silence(false);
    await eventually(() => node.link.status().connected, 30_000, 'reconnected');
    // The agent sends the event again (it never got the ack), then the rest.
    await eventually(
      () =>
        published.events.filter((e) => e.source === nodeId && content(e) === content(first.event)).length >=
        2,
      30_000,
      'the event sent again after the heal',
    );
    await eventually(() => node.link.status().eventsQueued === 0, 30_000, 'every event published');
    const after = await eventually(
      async () => {
        const all = await stored();
        return all.some((s) => s.event.kind === 'job-loaded' && s.event.label === label) ? all : undefined;
      },
      30_000,
      'the job-loaded event stored (it waits a second for the job to settle)',
    );
    const copies = after.filter((s) => content(s.event) === content(first.event));
    console.log(
      `[link-event-ack-lost] ${first.event.kind} ${first.event.reason ?? ''} (id ${first.msgId}): ` +
        `sent ${published.events.filter((e) => e.source === nodeId && content(e) === content(first.event)).length} times, ` +
        `stored ${copies.length} time(s); ${after.length - before} events stored since`,
    );
    assert.equal(copies.length, 1, `stored once: ${JSON.stringify(copies.map((c) => c.seq))}`);
    const ids = after.slice(before).map((s) => s.msgId);
    assert.ok(
      ids.every((id) => id?.startsWith(`${nodeId}.`)),
      `every event carries a message id: ${JSON.stringify(ids)}`,
    );
    assert.equal(new Set(ids).size, ids.length, 'distinct ids');
  });
});
