/**
 * The agent's credential renewal: keeps the node's NATS credentials (`<stateDir>/node.creds`)
 * from expiring by trading them, before they do, for fresh ones over the node's own connection.
 * When (core/renewal-schedule.ts): at a random point of [50 %, 80 %) of their lifetime, retries
 * with full jitter; a controller may ask for a renewal sooner (`lf.q.<nodeId>.renew`, e.g. after
 * rotating the account's signing key).
 *
 *   agent ──{nodeId, publicKey, requestedAt, Ed25519 signature by the node key}──▶ lf.renew.<nodeId>
 *         ◀──{jwt (same key, current permissions, new expiry)}──
 *
 * A reply is checked before it replaces anything: a JWT bound to this node's key, named after
 * this node, signed by an account key (`A…`) with a valid signature, expiring later than now.
 * Then the credentials file is replaced atomically (same seed, new JWT) and `onRenewed` tells
 * the link, which reconnects with them: the server disconnects a client whose JWT expires, and
 * the new permissions apply from the next connection.
 *
 * Past expiry no server accepts the node: `state` is `expired`, the link logs how to come back
 * (a new bootstrap token: re-enrolment keeps the node id) and re-enrols as this node.
 */
import { fromPublic } from '@nats-io/nkeys';
import { nativeFromSeed } from '@launchfleet/shared/native-nkeys';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { readFile, stat } from 'node:fs/promises';
import { messageOf } from '@launchfleet/shared/errors';
import type { Clock, Scheduler, TimerHandle } from '@launchfleet/shared/clock';
import {
  decodeRenewReply,
  encodeRenewRequest,
  renewSigningPayload,
  subjects,
} from '@launchfleet/shared/messages';
import type { SupervisorLog } from '../supervisor/job-runner.ts';
import {
  type CredentialsState,
  type HeldCredentials,
  type RenewalPolicy,
  credentialsState,
  defaultRenewalPolicy,
  nudgedTime,
  renewalTime,
  retryTime,
} from './core/renewal-schedule.ts';
import { writeFileAtomic } from '../adapters/atomic-write.ts';
import { type NodeIdentity, formatCreds, parseCreds, userClaims } from './credentials.ts';
import { credentialName, deniedLine, edgeFailure } from './nats-edge.ts';

export interface CredentialRenewalOptions {
  readonly identity: NodeIdentity;
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  /** Uniform [0, 1). */
  readonly random: () => number;
  readonly log: SupervisorLog;
  readonly policy?: RenewalPolicy;
  /** How long to wait for the controller's answer. Default 10 s. */
  readonly requestTimeoutMs?: number;
  /** New credentials are on disk: reconnect with them. */
  readonly onRenewed: () => void;
  /** The credentials expired (at the moment they did, or at start). */
  readonly onExpired?: () => void;
}

/** What one re-enrolment attempt came to: only a refusal is the controller's judgement. */
export type ReenrolOutcome = 'enrolled' | 'refused' | 'unreachable';

/** What status and metrics read. */
export interface CredentialsStatus {
  readonly state: CredentialsState | 'unreadable';
  /** ms; undefined without expiry. */
  readonly expiresAt: number | undefined;
  /** When the next renewal (or retry) is planned, ms. */
  readonly renewAt: number | undefined;
  readonly renewals: number;
  readonly failures: number;
  readonly lastError: string | undefined;
}

/** A nudge's body: renew within this many ms (bounded). */
const maxNudgeWithinMs = 24 * 3600_000;
/** How often an expired node retries re-enrolment with an unchanged token file. */
const reenrolRetryMs = 10 * 60_000;
/** The longest a timer is armed for (see `#arm`). */
const maxTimerMs = 3600_000;

export class CredentialRenewal {
  readonly #o: CredentialRenewalOptions;
  readonly #policy: RenewalPolicy;
  #held: HeldCredentials | undefined;
  #renewAt: number | undefined;
  #timer: TimerHandle | undefined;
  #expiredSaid = false;
  #nc: NatsConnection | undefined;
  #sub: Subscription | undefined;
  #busy = false;
  #stopped = false;
  #renewals = 0;
  #failures = 0;
  #lastError: string | undefined;
  #lastRequestedAt = 0;
  /** The last refused re-enrolment: when, the token file's mtime then, and why. */
  #reenrolRefused: { at: number; tokenMtime: number; why: string } | undefined;

  constructor(o: CredentialRenewalOptions) {
    this.#o = o;
    this.#policy = o.policy ?? defaultRenewalPolicy;
  }

  /** Reads the credentials and plans the renewal. Call again after the file was replaced (re-enrolment). */
  async start(): Promise<void> {
    this.#failures = 0;
    await this.#load();
    this.#plan(this.#renewAt === undefined ? this.#firstRenewal() : this.#renewAt);
  }

  /** A session connected: renew now if due, and listen for the controller's nudges. */
  attach(nc: NatsConnection): void {
    this.#nc = nc;
    try {
      this.#sub = nc.subscribe(subjects.query(this.#o.identity.nodeId, 'renew'), {
        callback: (err, m) => {
          if (!err) this.#onNudge(m.data, (d) => m.respond(d));
        },
      });
    } catch (e) {
      this.#o.log('warn', 'link', `cannot listen for renewal requests: ${messageOf(e)}`);
    }
    if (this.state() === 'renewal-due') void this.renewNow();
  }

  /** The session is gone. */
  detach(): void {
    this.#sub?.unsubscribe();
    this.#sub = undefined;
    this.#nc = undefined;
  }

  stop(): void {
    this.#stopped = true;
    this.#timer?.cancel();
    this.detach();
  }

  /** Whether no server accepts the credentials any more. */
  expired(): boolean {
    return this.state() === 'expired';
  }

  state(): CredentialsState | 'unreadable' {
    if (!this.#held) return 'unreadable';
    return credentialsState(this.#held, this.#renewAt, this.#o.clock.wallMs());
  }

  status(): CredentialsStatus {
    return {
      state: this.state(),
      expiresAt: this.#held?.expiresAtMs,
      renewAt: this.#renewAt,
      renewals: this.#renewals,
      failures: this.#failures,
      lastError: this.#lastError,
    };
  }

  /**
   * Expired: re-enrols as this node through `enrolAs` (the link's enrolment with the bootstrap
   * token file), at once when the token file changed since the last refusal, else at most every
   * `reenrolRetryMs` (an expired fleet must not hammer the controller with a used-up token).
   * Only a refusal starts that wait: a controller that could not be reached (the network is
   * still down) has judged nothing, and the link retries with its usual backoff.
   * Resolves when re-enrolled (then `start()` again); throws with what to do otherwise.
   */
  async reenrol(
    tokenFile: string | undefined,
    enrolAs: () => Promise<ReenrolOutcome>,
    why: () => string,
  ): Promise<void> {
    const now = this.#o.clock.wallMs();
    const mtime = tokenFile
      ? await stat(tokenFile).then(
          (st) => st.mtimeMs,
          () => -1,
        )
      : -1;
    const last = this.#reenrolRefused;
    const due = !last || last.tokenMtime !== mtime || now - last.at >= reenrolRetryMs;
    const outcome = due ? await enrolAs() : undefined;
    if (outcome === 'enrolled') {
      this.#reenrolRefused = undefined;
      return;
    }
    if (outcome === 'refused') this.#reenrolRefused = { at: now, tokenMtime: mtime, why: why() };
    const exp = this.#held?.expiresAtMs;
    // While it waits, the status still says why the last attempt was refused.
    const attempt =
      outcome === undefined
        ? `failed (${last?.why ?? '?'}) and waits for a new token`
        : outcome === 'unreachable'
          ? `could not reach the controller (${why()}), retried with backoff`
          : `failed (${why()})`;
    const msg =
      `credentials of ${this.#o.identity.nodeId} expired at ${exp === undefined ? '?' : new Date(exp).toISOString()}; ` +
      (tokenFile
        ? `re-enrolment with the token in ${tokenFile} ${attempt}: ` +
          `write a new bootstrap token there (launchfleet tokens create) and the agent re-enrols as the same node`
        : 'no controller.bootstrapTokenFile is configured to re-enrol with');
    this.#lastError = msg;
    throw new Error(msg);
  }

  /** One renewal attempt over the current connection; resolves to whether it succeeded. */
  async renewNow(): Promise<boolean> {
    const nc = this.#nc;
    if (!nc || this.#busy || this.#stopped) return false;
    this.#busy = true;
    try {
      const text = await readFile(this.#o.identity.credsPath, 'utf8');
      const parts = parseCreds(text);
      if (!parts) throw new Error(`${this.#o.identity.credsPath} is not a credentials file`);
      const pair = nativeFromSeed(parts.seed);
      if (!pair.ok) throw new Error(`${this.#o.identity.credsPath}: ${pair.error}`);
      const key = pair.value;
      const publicKey = key.getPublicKey();
      const nodeId = this.#o.identity.nodeId;
      const requestedAt = Math.max(this.#o.clock.wallMs(), this.#lastRequestedAt + 1);
      this.#lastRequestedAt = requestedAt;
      const signature = Buffer.from(
        key.sign(renewSigningPayload({ nodeId, publicKey, requestedAt })),
      ).toString('base64url');
      key.clear();
      const m = await nc.request(
        subjects.renew(nodeId),
        encodeRenewRequest({ nodeId, publicKey, requestedAt, signature }, requestedAt),
        { timeout: this.#o.requestTimeoutMs ?? 10_000 },
      );
      const reply = decodeRenewReply(m.data);
      if (!reply.ok) throw new Error(`unreadable answer: ${reply.error.code}: ${reply.error.detail}`);
      if (!reply.value.ok) throw new Error(`refused: ${reply.value.error}: ${reply.value.message}`);
      const problem = this.#checkJwt(reply.value.jwt, publicKey, nodeId);
      if (problem) throw new Error(`refused the controller's answer: ${problem}`);
      if (this.#stopped) return false;
      await writeFileAtomic(this.#o.identity.credsPath, formatCreds(reply.value.jwt, parts.seed), 0o600);
      this.#renewals++;
      this.#failures = 0;
      this.#lastError = undefined;
      await this.#load();
      this.#plan(this.#firstRenewal());
      const exp = this.#held?.expiresAtMs;
      this.#o.log(
        'info',
        'link',
        `credentials renewed; they expire ${exp === undefined ? 'never' : new Date(exp).toISOString()}`,
      );
      this.#o.onRenewed();
      return true;
    } catch (e) {
      this.#failures++;
      this.#lastError = messageOf(e);
      const now = this.#o.clock.wallMs();
      // Classified once (nats-edge.ts). NATS denying the request needs a person: no backoff from
      // 30 s, but the longest wait (still within half the time left, so the credentials do not
      // expire untried); said at error, naming the subject and the credential.
      const f = edgeFailure(e, 'renewing the credentials');
      const exp = this.#held?.expiresAtMs;
      const next =
        f.kind === 'denied'
          ? now +
            1 +
            Math.floor(
              Math.max(0, Math.min(this.#policy.retryCapMs, exp === undefined ? Infinity : (exp - now) / 2)),
            )
          : retryTime(now, this.#failures, this.#o.random(), exp, this.#policy);
      if (f.kind === 'denied') {
        const subject = subjects.renew(this.#o.identity.nodeId);
        this.#o.log(
          'error',
          'link',
          `${deniedLine('the credential renewal', subject, credentialName(this.#o.identity.nodeId, this.#o.identity.credsPath), f.error)}; ` +
            `next try ${new Date(next).toISOString()}`,
        );
      } else
        this.#o.log(
          'warn',
          'link',
          `credential renewal failed (${this.#failures}): ${this.#lastError}; next try ${new Date(next).toISOString()}`,
        );
      this.#plan(next);
      return false;
    } finally {
      this.#busy = false;
    }
  }

  /** Problems with a renewed JWT, or undefined when it is fit to use. */
  #checkJwt(jwt: string, publicKey: string, nodeId: string): string | undefined {
    const c = userClaims(jwt);
    if (!c) return 'not a user JWT';
    if (c.sub !== publicKey) return 'the JWT is not bound to this node key';
    if (c.name !== nodeId) return 'the JWT names another node';
    if (!/^A[A-Z2-7]{55}$/.test(c.iss)) return 'the JWT is not signed by an account key';
    const [h, b, sig] = jwt.split('.') as [string, string, string];
    try {
      if (!fromPublic(c.iss).verify(new TextEncoder().encode(`${h}.${b}`), Buffer.from(sig, 'base64url')))
        return 'the JWT signature does not verify';
    } catch {
      return 'the JWT signature does not verify';
    }
    if (c.expiresAtMs !== undefined && c.expiresAtMs <= this.#o.clock.wallMs()) return 'the JWT has expired';
    return undefined;
  }

  #onNudge(data: Uint8Array, respond: (d: Uint8Array) => boolean): void {
    let within = 0;
    try {
      const v = (JSON.parse(new TextDecoder().decode(data)) as { withinMs?: unknown }).withinMs;
      if (typeof v === 'number' && Number.isFinite(v)) within = Math.min(Math.max(0, v), maxNudgeWithinMs);
    } catch {
      // no body: now
    }
    const now = this.#o.clock.wallMs();
    const at = nudgedTime(this.#renewAt, now, within, this.#o.random());
    this.#o.log(
      'info',
      'link',
      `the controller asked for a credential renewal; renewing at ${new Date(at).toISOString()}`,
    );
    this.#plan(at);
    try {
      respond(new TextEncoder().encode(JSON.stringify({ ok: true, renewAt: at })));
    } catch {
      // no reply subject
    }
  }

  async #load(): Promise<void> {
    try {
      const parts = parseCreds(await readFile(this.#o.identity.credsPath, 'utf8'));
      const c = parts ? userClaims(parts.jwt) : undefined;
      this.#held = c ? { issuedAtMs: c.issuedAtMs, expiresAtMs: c.expiresAtMs } : undefined;
      if (!c) this.#lastError = `${this.#o.identity.credsPath} holds no readable JWT`;
    } catch (e) {
      this.#held = undefined;
      this.#lastError = `cannot read ${this.#o.identity.credsPath}: ${messageOf(e)}`;
    }
  }

  #firstRenewal(): number | undefined {
    return this.#held ? renewalTime(this.#held, this.#o.random(), this.#policy) : undefined;
  }

  /** Plans the next renewal (or retry) for `at` and arms the timer. */
  #plan(at: number | undefined): void {
    this.#renewAt = at;
    this.#arm();
  }

  /**
   * One timer for both the renewal and the expiry, at most `maxTimerMs` ahead: Node's timers
   * overflow past 24.8 days (the default lifetime is 30), and a laptop that slept has a wall
   * clock far ahead of its timers; each wake re-reads the wall clock.
   */
  #arm(): void {
    this.#timer?.cancel();
    if (this.#stopped) return;
    const now = this.#o.clock.wallMs();
    const exp = this.#held?.expiresAtMs;
    if (exp !== undefined && exp <= now) {
      if (!this.#expiredSaid) {
        this.#expiredSaid = true;
        this.#o.onExpired?.();
      }
      return;
    }
    this.#expiredSaid = false;
    // A renewal already due waits for a connection (attach); until then only the expiry counts.
    const renewAt = this.#renewAt !== undefined && this.#renewAt > now ? this.#renewAt : Infinity;
    const next = Math.min(this.#nc ? (this.#renewAt ?? Infinity) : renewAt, exp ?? Infinity);
    if (next === Infinity) return;
    this.#timer = this.#o.scheduler.after(Math.min(Math.max(0, next - now), maxTimerMs), () => {
      this.#timer = undefined;
      // Not connected: the next attach renews (the state reads renewal-due by then).
      if (this.state() === 'renewal-due' && this.#nc) void this.renewNow();
      else this.#arm();
    });
  }
}
