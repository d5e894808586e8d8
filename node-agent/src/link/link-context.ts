/**
 * The fleet link's connection state as one value (`LinkConnection`), and what the link's parts
 * share (`LinkContext`): the loop (fleet-link.ts), the enrolment (link-enrolment.ts) and the
 * session (link-session.ts) read and write the state here, and nothing else holds any. The
 * pacing between passes is a pure core (core/link-loop.ts); this is the state its I/O keeps.
 *
 * ```
 *   enrolling ─▶ connecting ─▶ connected ─▶ (connection lost) ─▶ waiting ─▶ connecting ...
 *       └─(no identity, or a failure)────────────────────────────▶ waiting
 *   any ─▶ stopped (stop())
 * ```
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { LaunchfleetError } from '@launchfleet/shared/errors';
import type { Scheduler } from '@launchfleet/shared/clock';
import type { TrustStore } from '@launchfleet/shared/signing';
import type { AgentConfig } from '../config/agent-config.ts';
import type { SupervisorLog } from '../supervisor/job-runner.ts';
import type { CredentialRenewal } from './credential-renewal.ts';
import type { NodeIdentity } from './credentials.ts';
import type { DesiredWatch } from './desired-watch.ts';
import type { FleetLinkOptions, FleetLinkSettings, LinkState } from './fleet-link-settings.ts';
import type { Reconciler } from './reconciler.ts';
import type { Reporter } from './reporter.ts';
import type { EdgePacing } from './nats-edge.ts';

/** Where the link is and what it holds: one value, written by the loop, the enrolment and the session. */
export interface LinkConnection {
  state: LinkState;
  /** The node's identity, once enrolled (or loaded at start). */
  identity: NodeIdentity | undefined;
  /** The trust store in force (the stored one, then the ones the controllers publish). */
  trust: TrustStore | undefined;
  /** The trust store writes in flight, chained (link-session.ts `onTrust`). */
  trustWrites: Promise<void>;
  /** The session's connection while there is one. */
  nc: NatsConnection | undefined;
  /** The session's desired-state watch once started. */
  watch: DesiredWatch | undefined;
  /** stop() was called: no new pass, no new session. */
  stopped: boolean;
  /** Successful (re)connections. */
  connects: number;
  /** Failed passes (enrolment, connect or set-up). */
  connectFailures: number;
  /** Session moves without a gap, and moves not made, by kind (link-session.ts). */
  readonly moves: Record<'moved_lame_duck' | 'moved_home' | 'move_failed', number>;
  lastError: string | undefined;
  /** The last session ended because its connection closed (not a watch failure, not stop()). */
  lostBroker: boolean;
  /** The last session's server announced lame-duck mode (it closes its clients spread over time). */
  lameDuck: boolean;
  /** Session set-ups given up in a row (each doubles the next one's bound). */
  setupTimeouts: number;
  /**
   * Sessions in a row that connected but could not be set up: the next one starts that many
   * servers further down the node's order (a server that takes clients but cannot serve them,
   * cut from its cluster, would otherwise be tried first for ever).
   */
  failedSetups: number;
  /** Renews the credentials before they expire, once there is an identity. */
  renewal: CredentialRenewal | undefined;
  /** Renewed credentials are on disk: reconnect with them now, without the spread. */
  renewed: boolean;
  /** The last enrolment attempt never reached the controller (not a refusal). */
  lastEnrolUnreachable: boolean;
  /** Why the last enrolment attempt failed, classified (link-failure.ts). */
  lastEnrolError: LaunchfleetError | undefined;
}

/** The state of a link that has not started a pass yet. */
export function initialConnection(): LinkConnection {
  return {
    state: 'connecting',
    identity: undefined,
    trust: undefined,
    trustWrites: Promise.resolve(),
    nc: undefined,
    watch: undefined,
    stopped: false,
    connects: 0,
    connectFailures: 0,
    moves: { moved_lame_duck: 0, moved_home: 0, move_failed: 0 },
    lastError: undefined,
    lostBroker: false,
    lameDuck: false,
    setupTimeouts: 0,
    failedSetups: 0,
    renewal: undefined,
    renewed: false,
    lastEnrolUnreachable: false,
    lastEnrolError: undefined,
  };
}

/** What the link's parts share: its inputs, the parts it wired, and its connection state. */
export interface LinkContext {
  readonly o: FleetLinkOptions;
  readonly controller: NonNullable<AgentConfig['controller']>;
  readonly set: FleetLinkSettings;
  readonly scheduler: Scheduler;
  readonly random: () => number;
  readonly log: SupervisorLog;
  readonly hostname: string;
  readonly agentVersion: string;
  readonly reconciler: Reconciler;
  readonly reporter: Reporter;
  /** Bundles refused, by reason. */
  readonly refusals: Map<string, number>;
  /** What the desired-state reads said already, across sessions (nats-edge.ts). */
  readonly desiredPacing: EdgePacing;
  readonly conn: LinkConnection;
  /** Starts (or restarts) the credential renewal for `id`. */
  startRenewal(id: NodeIdentity): Promise<void>;
  /** Loads the stored trust store of the identity in force. */
  loadTrust(): Promise<void>;
}
