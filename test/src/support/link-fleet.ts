/**
 * The controller's side of the link-*.test.ts suites: signs and puts bundles the way the
 * controller does (bundle-publisher), reads node status from `lf_nodes`, and records every
 * node event as it is published.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { putSignedBundle } from '@launchfleet/controller/identity';
import {
  type NodeEvent,
  type NodeStatus,
  decodeNodeEvent,
  decodeNodeStatus,
  keys,
} from '@launchfleet/shared/messages';
import { type JobBundle, encodeSignedBundle, signBundle } from '@launchfleet/shared/signing';
import type { FleetLinkSettings } from '@launchfleet/node-agent/link';
import type { ControlPlaneHarness } from './control-plane.ts';
import { type LinkNode, eventually, startLinkNode } from './link-node.ts';

/** Every event any node publishes, decoded, in arrival order. */
export class EventLog {
  readonly events: NodeEvent[] = [];
  readonly undecodable: string[] = [];

  constructor(nc: NatsConnection) {
    nc.subscribe('lf.events.>', {
      callback: (_e, m) => {
        const d = decodeNodeEvent(m.data);
        if (d.ok) this.events.push(d.value);
        else this.undecodable.push(d.error.detail);
      },
    });
  }

  of(nodeId: string, kind?: NodeEvent['kind'], label?: string): NodeEvent[] {
    return this.events.filter(
      (e) =>
        e.source === nodeId &&
        (kind === undefined || e.kind === kind) &&
        (label === undefined || e.label === label),
    );
  }
}

/** Signs and puts a bundle for one node (valid for an hour unless overridden). */
export async function putJob(
  cp: ControlPlaneHarness,
  nodeId: string,
  b: { label: string; version: number; plist: string; domain?: string } & Partial<JobBundle>,
): Promise<{ revision: number; raw: string }> {
  const now = Date.now();
  const { revision, signed } = await putSignedBundle(cp.store, cp.keyStore.activeSigningKey(), {
    domain: 'system',
    issuedAt: now,
    expiresAt: now + 3600_000,
    nodeId,
    ...b,
  });
  return { revision, raw: encodeSignedBundle(signed) };
}

/** A signed bundle's wire form, not put anywhere. */
export function signedRaw(cp: ControlPlaneHarness, b: Omit<JobBundle, 'keyId'>): string {
  const key = cp.keyStore.activeSigningKey();
  return encodeSignedBundle(signBundle({ ...b, keyId: key.keyId }, key));
}

/** The node's status snapshot from `lf_nodes`, if any. */
export async function nodeStatus(cp: ControlPlaneHarness, nodeId: string): Promise<NodeStatus | undefined> {
  const e = await cp.store.nodes.get(keys.nodeStatus(nodeId));
  if (!e || e.operation !== 'PUT') return undefined;
  const s = decodeNodeStatus(e.value);
  if (!s.ok) throw new Error(`undecodable status: ${s.error.detail}`);
  return s.value;
}

/** A link node enrolled with a fresh bootstrap token (to `urls`, the servers by default), once connected. */
export async function enrolledLinkNode(
  cp: ControlPlaneHarness,
  o: { urls?: readonly string[]; settings?: FleetLinkSettings; random?: () => number } = {},
): Promise<LinkNode> {
  const { token } = await cp.enrollment.createToken({ ttlMs: 60_000 });
  const node = await startLinkNode({
    urls: o.urls ?? cp.urls,
    token,
    enrollCreds: cp.enrollCreds,
    ...(o.settings && { settings: o.settings }),
    ...(o.random && { random: o.random }),
  });
  await eventually(() => node.link.status().connected, 15_000, 'connected');
  return node;
}
