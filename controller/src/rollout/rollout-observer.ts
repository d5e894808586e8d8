/**
 * Builds the core's NodeObservations of a rollout's target from what the controller sees: the
 * fleet index (node status in `lf_nodes`, heartbeats, presence) and the node's desired key.
 *
 * The agent's status reports, per label, the job's typed state `{subState, active, result}`
 * (read as is: the rollout core speaks the same active states), the bundle version it runs and
 * a detail (pid, runs, successive crashes, crash-loop / load-failure marks, and the highest
 * `lf_desired` revision applied). From that:
 * - reportedVersion: the content version (job-versions.ts) of the bundle number it runs;
 * - acknowledgedVersion: what our write to its key carries once the node's `desiredRevision`
 *   reached that write's revision (so a bundle the node refused or cannot load counts as "seen
 *   and failing", never as "not yet seen"); before that, what it runs;
 * - runningSince: the status carries no process start time, so it is the first time this
 *   controller saw the current pid running this version (conservative: later than the real
 *   start, so a node is never judged healthy too early; a restarted driver starts the clock again);
 * - lastCrashAt: when the successive-crash count was seen to rise (or the crash loop began).
 */
import type { Clock } from '@launchfleet/shared';
import { isThrottled } from '@launchfleet/shared/job';
import type { FleetIndex } from '../fleet/core/fleet-index.ts';
import type { JobHealthFacts, NodeObservation, RolloutSpec, RolloutState, Version } from './core/index.ts';
import type { RolloutApplier } from './rollout-applier.ts';
import type { JobVersions } from './job-versions.ts';

interface Memo {
  version: Version;
  pid: number | undefined;
  runningSince: number | null;
  loadedSince: number;
  crashes: number;
  lastCrashAt: number | null;
}

export class RolloutObserver {
  readonly #index: FleetIndex;
  readonly #applier: RolloutApplier;
  readonly #versions: JobVersions;
  readonly #clock: Clock;
  /** Per `<label>/<nodeId>`: facts remembered between observations. Bounded by the targets driven. */
  readonly #memo = new Map<string, Memo>();

  constructor(index: FleetIndex, applier: RolloutApplier, versions: JobVersions, clock: Clock) {
    this.#index = index;
    this.#applier = applier;
    this.#versions = versions;
    this.#clock = clock;
  }

  /** Forgets what was remembered for a finished rollout's nodes. */
  forget(spec: RolloutSpec): void {
    for (const id of spec.targetNodes) this.#memo.delete(`${spec.label}/${id}`);
  }

  async observe(spec: RolloutSpec, state: RolloutState): Promise<NodeObservation[]> {
    const now = this.#clock.wallMs();
    const out: NodeObservation[] = [];
    for (const nodeId of spec.targetNodes) {
      const n = this.#index.node(nodeId);
      const lastSeenAt = n ? this.#index.lastSeen(n) : 0;
      const online = n !== undefined && this.#index.presence(n, now) === 'online';
      const status = n?.status;
      const reportedNumber = status?.versions[spec.label];
      const reportedVersion: Version =
        reportedNumber !== undefined && /^\d+$/.test(reportedNumber)
          ? String(await this.#versions.contentOf(spec.label, Number(reportedNumber)))
          : null;
      let acknowledgedVersion: Version = reportedVersion;
      const lastSet = state.nodes[nodeId]?.lastSet;
      if (lastSet && lastSet.version !== reportedVersion && status?.desiredRevision !== undefined) {
        const slot = await this.#applier.slot(nodeId, spec.label);
        if (slot.revision > 0 && status.desiredRevision >= slot.revision) acknowledgedVersion = slot.content;
      }
      const state0 = status?.jobs[spec.label];
      const detail = status?.details?.[spec.label];
      let job: JobHealthFacts | null = null;
      const key = `${spec.label}/${nodeId}`;
      if (state0 !== undefined || detail?.loadFailed === true) {
        let m = this.#memo.get(key);
        if (!m || m.version !== reportedVersion) {
          m = {
            version: reportedVersion,
            pid: undefined,
            runningSince: null,
            loadedSince: now,
            crashes: detail?.successiveCrashes ?? 0,
            // The memo is per version: crashes already counted when it is first seen happened in the window.
            lastCrashAt: (detail?.successiveCrashes ?? 0) > 0 ? now : null,
          };
          this.#memo.set(key, m);
        }
        const running = state0?.subState === 'running' && detail?.pid !== undefined;
        if (running) {
          if (m.pid !== detail.pid || m.runningSince === null) {
            m.pid = detail.pid;
            m.runningSince = now;
          }
        } else {
          m.pid = undefined;
          m.runningSince = null;
        }
        const crashes = detail?.successiveCrashes ?? 0;
        if (crashes > m.crashes) m.lastCrashAt = now;
        m.crashes = crashes;
        if (detail?.crashLooping === true && m.lastCrashAt === null)
          m.lastCrashAt = detail.crashLoopingSince ?? now;
        job = {
          state: state0?.active ?? 'inactive',
          runningSince: m.runningSince,
          loadedSince: m.loadedSince,
          lastCrashAt: m.lastCrashAt,
          throttled: state0 !== undefined && isThrottled(state0),
          crashLooping: detail?.crashLooping === true,
          spawnFailed: state0?.result === 'spawn-failed',
          loadFailed: detail?.loadFailed === true || state0?.result === 'load-failed',
        };
      }
      out.push({ nodeId, online, lastSeenAt, acknowledgedVersion, reportedVersion, job });
    }
    return out;
  }
}
