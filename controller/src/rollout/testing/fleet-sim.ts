/**
 * A scriptable fake fleet for the rollout core's unit and property tests (fakes only in unit
 * tests of pure code). It plays the applier and the nodes: `set-desired` actions go into a fake
 * KV; an online node acknowledges and loads its desired version on the next observation; a node
 * whose behaviour is `crash` crash-loops on the new version. Time is whatever the test says.
 */
import type { NodeObservation } from '../core/node-observation.ts';
import type { RolloutAction } from '../core/rollout-state.ts';
import type { Version } from '../core/rollout-spec.ts';

/**
 * How a node behaves with the version under test: `good` runs it; `crash` crash-loops on it;
 * `stuck` is online but never picks up a new desired version (a wedged agent).
 */
export type NodeBehaviour = 'good' | 'crash' | 'stuck';

interface SimNode {
  online: boolean;
  lastSeenAt: number;
  /** What the KV says the node should run. */
  desired: Version;
  /** What the node acknowledged and loaded. */
  loaded: Version;
  runningSince: number | null;
  lastCrashAt: number | null;
  crashing: boolean;
}

export class FleetSim {
  readonly nodes = new Map<string, SimNode>();
  /** Every set-desired the applier received, in order. */
  readonly writes: { nodeId: string; version: Version; reason: string; at: number }[] = [];
  readonly behaviour = new Map<string, NodeBehaviour>();
  readonly toVersion: string;

  constructor(toVersion: string, from: Record<string, Version>, ids: readonly string[]) {
    this.toVersion = toVersion;
    for (const id of ids) {
      const v = from[id] ?? null;
      this.nodes.set(id, {
        online: true,
        lastSeenAt: 0,
        desired: v,
        loaded: v,
        runningSince: v === null ? null : 0,
        lastCrashAt: null,
        crashing: false,
      });
    }
  }

  /** Applies the machine's actions: set-desired writes the fake KV. Other actions are the caller's. */
  apply(actions: readonly RolloutAction[], at: number): void {
    for (const a of actions) {
      if (a.type !== 'set-desired') continue;
      this.writes.push({ nodeId: a.nodeId, version: a.version, reason: a.reason, at });
      const n = this.nodes.get(a.nodeId);
      if (n) n.desired = a.version;
    }
  }

  setOnline(id: string, online: boolean): void {
    const n = this.nodes.get(id);
    if (n) n.online = online;
  }

  /** Online nodes pick up their desired version, then everyone is observed at `now`. */
  observe(now: number): NodeObservation[] {
    const out: NodeObservation[] = [];
    for (const [id, n] of this.nodes) {
      if (n.online) {
        n.lastSeenAt = now;
        if (n.loaded !== n.desired && this.behaviour.get(id) !== 'stuck') {
          n.loaded = n.desired;
          n.crashing = n.loaded === this.toVersion && this.behaviour.get(id) === 'crash';
          n.runningSince = n.loaded === null || n.crashing ? null : now;
          if (n.crashing) n.lastCrashAt = now;
        } else if (n.crashing) {
          n.lastCrashAt = now;
        }
      }
      out.push({
        nodeId: id,
        online: n.online,
        lastSeenAt: n.lastSeenAt,
        // It acknowledges a desired version when it loads it (an offline node has seen nothing new).
        acknowledgedVersion: n.loaded,
        reportedVersion: n.loaded,
        job:
          n.loaded === null
            ? null
            : {
                state: n.crashing ? 'failed' : 'active',
                runningSince: n.runningSince,
                loadedSince: n.runningSince,
                lastCrashAt: n.lastCrashAt,
                throttled: false,
                crashLooping: n.crashing,
                spawnFailed: false,
                loadFailed: false,
              },
      });
    }
    return out;
  }

  /** Forward writes (rollout or converge) per node. */
  forwardWrites(id: string): number {
    return this.writes.filter((w) => w.nodeId === id && w.reason !== 'rollback').length;
  }
}
