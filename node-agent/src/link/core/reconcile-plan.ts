/**
 * The agent's desired-state reconciliation, as a pure function (controller-runtime's
 * `Reconcile`, Nomad's `AllocReconciler.Compute()`): given what the controller wants (verified
 * bundles), what the supervisor runs and what the managed files on disk say, return the
 * actions that make them agree. Level-based: it never looks at *how* things changed, only at
 * what is; running it again after its actions were carried out returns nothing (idempotent).
 *
 * Assumptions / invariants:
 * - A desired job's domain pattern (`system`, `gui/*`, `gui/501`, `user/*`, `user/501`) expands
 *   to the live domains that match it; a `gui/*` job follows sessions as they come and go.
 * - "Ours" means the supervisor runs the very job object the reconciler bootstrapped (the
 *   runtime compares runner identity). A job with our label but not ours, loaded from a managed
 *   path, was re-bootstrapped by hand: it is replaced. Loaded from any other path, it is a local
 *   job with the same label: a conflict, reported, never touched.
 * - A bundle whose plist cannot be loaded (invalid) leaves the previous version running: the
 *   reconciler never stops a working job because its successor is broken.
 * - A terminal load failure for (domain, label, version) is not retried until the version
 *   changes; a retryable one is planned again on every pass (the runtime, reconciler.ts, holds
 *   the job back until its retry time).
 * - A job is its plist in its domain target (the only inputs of the spec it was bootstrapped
 *   from). A new version whose plist is byte-for-byte the one our running job was bootstrapped
 *   from (a re-signature: a job-signing key rotation, a rollback to the content that runs) is
 *   adopted, never restarted; only a plist that differs replaces the job. The bundle was
 *   verified against the trust store before it got here, like any other.
 * - Only managed things are ever unloaded or deleted: jobs we bootstrapped, files in the
 *   managed directory.
 */

/** A job the controller wants on this node (already verified). */
export interface DesiredJob {
  readonly label: string;
  /** Domain pattern from the bundle. */
  readonly domain: string;
  readonly version: number;
  /** SHA-256 of the plist text, i.e. of the managed file's expected content. */
  readonly plistDigest: string;
  /** False when the plist does not make a loadable job (see `invalidReason`). */
  readonly loadable: boolean;
}

/** A live domain of the supervisor. */
export interface ObservedDomain {
  /** `system`, `gui/501`, `user/501`. */
  readonly target: string;
  readonly kind: 'system' | 'gui' | 'user';
}

/** A loaded job relevant to reconciliation (its label is desired, or it is ours / managed). */
export interface ObservedJob {
  readonly target: string;
  readonly label: string;
  /** The runner is the one the reconciler bootstrapped. */
  readonly ours: boolean;
  /** Its plist path is the managed path for (target, label). */
  readonly managedPath: boolean;
  /** Disabled by an override (launchctl disable). */
  readonly disabled: boolean;
  /** Being booted out (the label stays registered until its process exits). */
  readonly stopping: boolean;
}

/** A file in the managed directory. */
export interface ObservedFile {
  readonly target: string;
  readonly label: string;
  /** SHA-256 of its content. */
  readonly digest: string;
}

/** What the reconciler remembers having done (in memory; rebuilt after an agent restart). */
export interface LoadRecord {
  readonly target: string;
  readonly label: string;
  readonly version: number;
  /** SHA-256 of the plist the job was bootstrapped from (what "the same job" means). */
  readonly plistDigest: string;
}

/** A remembered load failure. */
export interface FailureRecord {
  readonly target: string;
  readonly label: string;
  readonly version: number;
  readonly retryable: boolean;
}

export interface ObservedState {
  readonly domains: readonly ObservedDomain[];
  readonly jobs: readonly ObservedJob[];
  readonly files: readonly ObservedFile[];
  readonly records: readonly LoadRecord[];
  readonly failures: readonly FailureRecord[];
}

/** Kinds of drift a plan repairs. */
export type DriftKind = 'plist-changed' | 'job-unloaded' | 'job-disabled';

/** One step of a plan. Keys are (target, label). */
export type ReconcileAction =
  /** Write the managed file and bootstrap the job. `drift` when it had been unloaded by hand. */
  | {
      readonly type: 'load';
      readonly target: string;
      readonly label: string;
      readonly version: number;
      readonly drift?: 'job-unloaded';
    }
  /** Boot out what runs (waiting for its exit), then write and bootstrap `version`. */
  | {
      readonly type: 'replace';
      readonly target: string;
      readonly label: string;
      readonly version: number;
      readonly fromVersion: number | undefined;
    }
  /**
   * A new version with the very plist the running job was bootstrapped from (re-signed): take
   * it as the version that runs, leave the process alone.
   */
  | {
      readonly type: 'adopt';
      readonly target: string;
      readonly label: string;
      readonly version: number;
      readonly fromVersion: number;
    }
  /** Rewrite the managed file (someone edited it); the running job is ours and unchanged. */
  | {
      readonly type: 'rewrite-file';
      readonly target: string;
      readonly label: string;
      readonly version: number;
      readonly drift: 'plist-changed';
    }
  /** Remove a disable override on a managed job. */
  | {
      readonly type: 'enable';
      readonly target: string;
      readonly label: string;
      readonly drift: 'job-disabled';
    }
  /** Boot out a managed job no longer desired and delete its file. */
  | { readonly type: 'unload'; readonly target: string; readonly label: string }
  /** Delete a managed file nothing wants. */
  | { readonly type: 'remove-file'; readonly target: string; readonly label: string }
  /** Forget a record nothing wants any more whose job is gone (unloaded, session ended). */
  | { readonly type: 'forget'; readonly target: string; readonly label: string }
  /** A local job holds the label: report, do not touch. */
  | { readonly type: 'conflict'; readonly target: string; readonly label: string; readonly version: number };

export type ReconcileActionType = ReconcileAction['type'];

/** The map key of (target, label). Targets contain no NUL. */
export function jobKey(target: string, label: string): string {
  return `${target}\u0000${label}`;
}

/** The live domains a bundle's domain pattern names. */
export function expandDomain(pattern: string, domains: readonly ObservedDomain[]): string[] {
  if (pattern === 'gui/*' || pattern === 'user/*') {
    const kind = pattern.slice(0, pattern.indexOf('/'));
    return domains.filter((d) => d.kind === kind).map((d) => d.target);
  }
  return domains.some((d) => d.target === pattern) ? [pattern] : [];
}

/** Computes the actions that bring the observed state to the desired one. */
export function planReconcile(desired: readonly DesiredJob[], o: ObservedState): ReconcileAction[] {
  const jobs = new Map(o.jobs.map((j) => [jobKey(j.target, j.label), j]));
  const files = new Map(o.files.map((f) => [jobKey(f.target, f.label), f]));
  const records = new Map(o.records.map((r) => [jobKey(r.target, r.label), r]));
  const failures = new Map(o.failures.map((f) => [jobKey(f.target, f.label), f]));
  const wanted = new Set<string>();
  const actions: ReconcileAction[] = [];

  for (const d of desired) {
    for (const target of expandDomain(d.domain, o.domains)) {
      const key = jobKey(target, d.label);
      wanted.add(key);
      if (!d.loadable) continue; // keep whatever runs; the runtime reported why
      const job = jobs.get(key);
      const rec = records.get(key);
      const fail = failures.get(key);
      const base = { target, label: d.label };
      if (job === undefined) {
        if (fail !== undefined && fail.version === d.version && !fail.retryable) continue;
        actions.push(
          rec !== undefined && rec.version === d.version
            ? { type: 'load', ...base, version: d.version, drift: 'job-unloaded' }
            : { type: 'load', ...base, version: d.version },
        );
        continue;
      }
      if (job.stopping) continue; // a bootout in flight; the next pass sees the result
      if (!job.ours) {
        if (job.managedPath)
          actions.push({ type: 'replace', ...base, version: d.version, fromVersion: undefined });
        else if (fail === undefined || fail.version !== d.version)
          actions.push({ type: 'conflict', ...base, version: d.version });
        continue;
      }
      if (rec !== undefined && rec.version !== d.version && rec.plistDigest === d.plistDigest)
        actions.push({ type: 'adopt', ...base, version: d.version, fromVersion: rec.version });
      else if (rec === undefined || rec.version !== d.version) {
        actions.push({ type: 'replace', ...base, version: d.version, fromVersion: rec?.version });
        continue;
      }
      if (files.get(key)?.digest !== d.plistDigest)
        actions.push({ type: 'rewrite-file', ...base, version: d.version, drift: 'plist-changed' });
      if (job.disabled) actions.push({ type: 'enable', ...base, drift: 'job-disabled' });
    }
  }

  for (const j of o.jobs) {
    const key = jobKey(j.target, j.label);
    if (wanted.has(key) || j.stopping) continue;
    if (j.ours || j.managedPath) actions.push({ type: 'unload', target: j.target, label: j.label });
  }
  for (const r of o.records) {
    const key = jobKey(r.target, r.label);
    if (!wanted.has(key) && !jobs.has(key))
      actions.push({ type: 'forget', target: r.target, label: r.label });
  }
  for (const f of o.files) {
    const key = jobKey(f.target, f.label);
    const j = jobs.get(key);
    if (!wanted.has(key) && (j === undefined || !(j.ours || j.managedPath)))
      actions.push({ type: 'remove-file', target: f.target, label: f.label });
  }
  return actions;
}
