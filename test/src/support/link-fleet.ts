/**
 * The controller's side of the link-*.test.ts suites: signs and puts bundles the way the
 * controller does (bundle-publisher), reads node status from `lf_nodes`, records every node
 * event as it is published, starts a suite's control plane and enrolled node
 * (`enrolledNodeSuite`), and re-issues a node's JWT with other permissions (`reissueNodeCreds`).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before } from 'node:test';
import type { NatsConnection } from '@nats-io/transport-node';
import { fromSeed } from '@nats-io/nkeys';
import { type UserPermissions, putSignedBundle, userJwt } from '@launchfleet/controller/identity';
import {
  type NodeEvent,
  type NodeStatus,
  decodeNodeEvent,
  decodeNodeStatus,
  keys,
} from '@launchfleet/shared/messages';
import { type JobBundle, encodeSignedBundle, signBundle } from '@launchfleet/shared/signing';
import { writeFileAtomic } from '@launchfleet/node-agent';
import { type FleetLinkSettings, formatCreds, stateFiles } from '@launchfleet/node-agent/link';
import { type ControlPlaneHarness, startControlPlane } from './control-plane.ts';
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

/** A suite's control plane and its one enrolled node (see `enrolledNodeSuite`). */
export interface EnrolledNodeSuite {
  readonly cp: ControlPlaneHarness;
  readonly node: LinkNode;
  /** The node's id (the enrolment gave it one). */
  readonly nodeId: string;
}

/**
 * Call inside `describe`: a control plane with one node enrolled and connected, started before
 * the suite's tests and closed after them. Read the fields inside the tests.
 */
export function enrolledNodeSuite(o: { settings?: FleetLinkSettings } = {}): EnrolledNodeSuite {
  let cp: ControlPlaneHarness | undefined;
  let node: LinkNode | undefined;
  before(async () => {
    cp = await startControlPlane();
    node = await enrolledLinkNode(cp, o);
  });
  after(async () => {
    await node?.close();
    await cp?.close();
  });
  const started = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error('the suite has not started (read the fields inside a test)');
    return v;
  };
  return {
    get cp() {
      return started(cp);
    },
    get node() {
      return started(node);
    },
    get nodeId() {
      const id = started(node).link.identity?.nodeId;
      if (!id) throw new Error('the node has no id: not enrolled');
      return id;
    },
  };
}

/**
 * Re-issues the node's JWT, signed by the same account key for the same node key, with
 * `permissions` (as an account whose permissions were narrowed, or a JWT issued by an older
 * controller), and writes it to the node's creds file. The agent uses it from its next
 * connection (restart it). Returns the creds file's path.
 */
export async function reissueNodeCreds(
  cp: ControlPlaneHarness,
  node: LinkNode,
  nodeId: string,
  permissions: UserPermissions,
): Promise<string> {
  const credsPath = join(node.stateDir, stateFiles.creds);
  const seed = /-----BEGIN USER NKEY SEED-----\n(\S+)\n/.exec(await readFile(credsPath, 'utf8'))?.[1];
  if (!seed) throw new Error(`${credsPath} holds no node seed`);
  const jwt = await userJwt(
    fromSeed(new TextEncoder().encode(seed)).getPublicKey(),
    cp.keyStore.natsKeys().account,
    { name: nodeId, permissions, maxPayload: 1024 * 1024, maxSubs: 64 },
  );
  await writeFileAtomic(credsPath, formatCreds(jwt, seed), 0o600);
  return credsPath;
}

/** The index of the server that holds a client connection named `name` (its /connz), or -1. */
export async function serverHolding(cp: ControlPlaneHarness, name: string): Promise<number> {
  for (const [i, s] of cp.servers.entries()) {
    const r = await fetch(`http://127.0.0.1:${s.monitorPort}/connz?limit=1000`).catch(() => undefined);
    const j = (await r?.json().catch(() => undefined)) as { connections?: { name?: string }[] } | undefined;
    if (j?.connections?.some((c) => c.name === name)) return i;
  }
  return -1;
}

/** The index of the server the node's connection is at, once it is at one (waits up to 10 s). */
export function nodeServer(cp: ControlPlaneHarness, nodeId: string): Promise<number> {
  return eventually(
    async () => {
      const i = await serverHolding(cp, nodeId);
      return i >= 0 ? i : undefined;
    },
    10_000,
    'the node connection at a server',
  );
}
