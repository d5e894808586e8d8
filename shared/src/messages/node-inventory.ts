/**
 * A node's inventory, kept current in `lf_nodes` under `<nodeId>.inventory` (node writes its
 * own; the controller reads). The flat `labels` map is what label selectors (`k=v,k2!=v2`)
 * match; enrolment's `inventory` is the starting value until the node writes this key.
 */
import type { Result } from '../errors.ts';
import { FieldReader, type MessageError, decodeEnvelope, encodeEnvelope } from './envelope.ts';
import { nodeIdPattern } from './tokens.ts';

export const nodeInventoryKind = 'node.inventory';

/** What a node says about itself. */
export interface NodeInventory {
  readonly nodeId: string;
  readonly hostname: string;
  /** Selector labels and facts (`os=macos`, `site=ams`, `agentVersion=0.1.0`). Bounded. */
  readonly labels: Record<string, string>;
}

export function encodeNodeInventory(i: NodeInventory, ts: number): Uint8Array {
  return encodeEnvelope(nodeInventoryKind, ts, i);
}

export function decodeNodeInventory(data: Uint8Array | string): Result<NodeInventory, MessageError> {
  const env = decodeEnvelope(data, nodeInventoryKind, 32 * 1024);
  if (!env.ok) return env;
  const f = new FieldReader(env.value.body);
  const nodeId = f.string('nodeId', 21, nodeIdPattern);
  const hostname = f.string('hostname', 253);
  const labels = f.stringMap('labels', 64, 256);
  return f.done({ nodeId, hostname, labels });
}
