/**
 * The alerts the controller raises itself, for users without Prometheus. Each has the name and
 * the meaning of a rule in deploy/prometheus/rules/launchfleet-alerts.yml, evaluated over the
 * same fleet view the controller's /metrics exports:
 *
 * ```
 * alert                          condition (per instance)                                hold-down (rule's for:)
 * LaunchfleetJobCrashLooping     the job is crash-looping on the node                    5m
 * LaunchfleetJobThrottled        throttled at some sample in the last 5m (the rule's      10m
 *                                max_over_time bridge)
 * LaunchfleetJobLoadFailed       the job failed to load on the node                      5m
 * LaunchfleetNodeUnseen          no report from the node for more than 10m               5m
 * LaunchfleetSignatureRefused    the node's signature-refusal counter rose in the last 15m   0
 * LaunchfleetDriftDetected       the node's drift counter rose in the last 15m           0
 * LaunchfleetDriftRecurring      the node's drift counter (per kind) rose more than 3     15m
 *                                times in the last 1h (`increase(...[1h]) > 3`)
 * LaunchfleetRolloutFailed       the rollout's state is failed or rolled_back (per         0
 *                                rollout and state, as the rule's `state` label)
 * LaunchfleetRolloutStuck        the rollout is running and its last progress is more      5m
 *                                than 15m old
 * ```
 * LaunchfleetControllerAbsent and LaunchfleetControllerDown are missing on purpose: a controller
 * cannot report its own absence; only an outside observer (Prometheus) can.
 * Pure: no I/O, no clock.
 */
import { type Result, ok, err } from '@launchfleet/shared';

/** The alert names (those of the Prometheus rules with the same meaning). */
export const alertNames = [
  'LaunchfleetJobCrashLooping',
  'LaunchfleetJobThrottled',
  'LaunchfleetJobLoadFailed',
  'LaunchfleetNodeUnseen',
  'LaunchfleetSignatureRefused',
  'LaunchfleetDriftDetected',
  'LaunchfleetDriftRecurring',
  'LaunchfleetRolloutFailed',
  'LaunchfleetRolloutStuck',
] as const;

export type AlertName = (typeof alertNames)[number];

export type AlertSeverity = 'critical' | 'warning' | 'info';

/** The severity label of each alert, as in the rules file. */
export const alertSeverity: Readonly<Record<AlertName, AlertSeverity>> = {
  LaunchfleetJobCrashLooping: 'critical',
  LaunchfleetJobThrottled: 'warning',
  LaunchfleetJobLoadFailed: 'warning',
  LaunchfleetNodeUnseen: 'warning',
  LaunchfleetSignatureRefused: 'warning',
  LaunchfleetDriftDetected: 'info',
  LaunchfleetDriftRecurring: 'warning',
  LaunchfleetRolloutFailed: 'critical',
  LaunchfleetRolloutStuck: 'warning',
};

/** Timings of the evaluator. */
export interface AlertSettings {
  /** How long a condition must hold before its alert fires (the rules' `for:`). */
  readonly holdDownMs: Readonly<Record<AlertName, number>>;
  /** A node is "unseen" after this long without a report (the rule's `> 600`). */
  readonly unseenAfterMs: number;
  /** A throttled sample keeps the throttled condition true this long (`max_over_time(...[5m])`). */
  readonly throttledWindowMs: number;
  /** A counter increase keeps its alert true this long (`increase(...[15m])`). */
  readonly counterWindowMs: number;
  /** Drift is "recurring" when it rose more than `driftRecurringAbove` times within this window (`[1h]`). */
  readonly driftRecurringWindowMs: number;
  /** The rule's `> 3`. */
  readonly driftRecurringAbove: number;
  /** A running rollout is stuck when its last progress is older than this (the rule's `> 900`). */
  readonly rolloutStuckAfterMs: number;
}

const minute = 60_000;

export const defaultAlertSettings: AlertSettings = {
  holdDownMs: {
    LaunchfleetJobCrashLooping: 5 * minute,
    LaunchfleetJobThrottled: 10 * minute,
    LaunchfleetJobLoadFailed: 5 * minute,
    LaunchfleetNodeUnseen: 5 * minute,
    LaunchfleetSignatureRefused: 0,
    LaunchfleetDriftDetected: 0,
    LaunchfleetDriftRecurring: 15 * minute,
    LaunchfleetRolloutFailed: 0,
    LaunchfleetRolloutStuck: 5 * minute,
  },
  unseenAfterMs: 10 * minute,
  throttledWindowMs: 5 * minute,
  counterWindowMs: 15 * minute,
  driftRecurringWindowMs: 60 * minute,
  driftRecurringAbove: 3,
  rolloutStuckAfterMs: 15 * minute,
};

/** Parses a duration as Prometheus writes them: `250ms`, `2s`, `5m`, `1h`, `0`. */
export function parseDurationMs(text: string): Result<number, string> {
  const m = /^(\d{1,9})(ms|s|m|h)?$/.exec(text.trim());
  if (!m) return err(`not a duration: ${JSON.stringify(text.slice(0, 40))} (use e.g. 30s, 5m, 1h)`);
  const n = Number(m[1]);
  const unit = m[2];
  if (unit === undefined && n !== 0) return err(`duration ${n} needs a unit (ms, s, m, h)`);
  const factor =
    unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? minute : unit === 'h' ? 60 * minute : 0;
  return ok(n * factor);
}

/**
 * Applies `NAME=DURATION` overrides of the hold-down times (`LaunchfleetJobCrashLooping=30s`; the
 * `Launchfleet` prefix may be left out), as the controller's `--alert-for` options give them.
 */
export function withHoldDowns(base: AlertSettings, specs: readonly string[]): Result<AlertSettings, string> {
  const holdDownMs: Record<AlertName, number> = { ...base.holdDownMs };
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    if (eq < 0) return err(`--alert-for ${JSON.stringify(spec.slice(0, 80))}: use NAME=DURATION`);
    const raw = spec.slice(0, eq).trim();
    const name = alertNames.find((n) => n === raw || n === `Launchfleet${raw}`);
    if (!name)
      return err(
        `--alert-for: unknown alert ${JSON.stringify(raw.slice(0, 80))} (one of ${alertNames.join(', ')})`,
      );
    const d = parseDurationMs(spec.slice(eq + 1));
    if (!d.ok) return err(`--alert-for ${name}: ${d.error}`);
    holdDownMs[name] = d.value;
  }
  return ok({ ...base, holdDownMs });
}
