/**
 * Stops an apply's writes once the broker has stopped answering them.
 *
 * Without quorum every KV write waits out the client's timeout (5 s); an apply to 1,000 nodes
 * with `concurrency` writes in flight took 1,000 / concurrency timeouts to fail: about 5 minutes
 * at 16, 20 s at 256 (docs/fault-suite.md). A leader election, on the other hand, fails the
 * writes in flight for a few seconds and then the stream answers again; those writes should go
 * on.
 *
 * So: after a write fails as UNAVAILABLE (timeout, no responders, connection gone) the gate
 * closes to all but one write at a time, the probe. A probe (or any write still in flight) that
 * succeeds opens it again; a probe that fails once `giveUpMs` have passed since the first
 * failure stops the gate for good, and every write not yet started is reported as not written
 * without being tried. A probe that fails fast (no responders, during an election) is tried
 * again after `pauseMs`. Without quorum an apply thus ends about one client timeout after its
 * first failed write plus the last probe's own timeout, whatever the number of nodes.
 */
export type Admission = 'go' | 'probe' | 'stop';

export class WriteGate {
  readonly #now: () => number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #giveUpMs: number;
  readonly #pauseMs: number;
  #state: 'open' | 'probing' | 'stopped' = 'open';
  #probeOut = false;
  #since = 0;
  #waiters: (() => void)[] = [];
  /** The failure that closed the gate (its message). */
  reason = '';

  constructor(o: {
    now: () => number;
    sleep: (ms: number) => Promise<void>;
    giveUpMs: number;
    pauseMs?: number;
  }) {
    this.#now = o.now;
    this.#sleep = o.sleep;
    this.#giveUpMs = o.giveUpMs;
    this.#pauseMs = o.pauseMs ?? 250;
  }

  get stopped(): boolean {
    return this.#state === 'stopped';
  }

  /** Waits until a write may start: `go` (open), `probe` (the one write tried), `stop`. */
  async admit(): Promise<Admission> {
    for (;;) {
      if (this.#state === 'open') return 'go';
      if (this.#state === 'stopped') return 'stop';
      if (!this.#probeOut) {
        this.#probeOut = true;
        return 'probe';
      }
      await new Promise<void>((r) => this.#waiters.push(r));
    }
  }

  /** A write went through: the broker answers. */
  succeeded(): void {
    if (this.#state !== 'probing') return;
    this.#state = 'open';
    this.#probeOut = false;
    this.#wakeAll();
  }

  /**
   * A write failed; `unavailable` when the broker did not answer it (other failures, a lost
   * compare-and-set, say nothing about the broker).
   */
  async failed(o: { unavailable: boolean; reason: string; probe: boolean }): Promise<void> {
    if (o.unavailable && this.#state === 'open') {
      this.#state = 'probing';
      this.#since = this.#now();
      this.reason = o.reason;
    }
    if (!o.probe || this.#state !== 'probing') return;
    if (o.unavailable && this.#now() - this.#since >= this.#giveUpMs) {
      this.#state = 'stopped';
      this.#wakeAll();
      return;
    }
    if (o.unavailable) await this.#sleep(this.#pauseMs);
    this.#probeOut = false;
    this.#waiters.shift()?.();
  }

  #wakeAll(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const r of w) r();
  }
}

/** How one write through the gate ended. */
export type GatedWrite<T> =
  | { readonly ok: true; readonly value: T }
  /** `tried`: false when the gate stopped before the first try (nothing was sent). */
  | { readonly ok: false; readonly tried: boolean; readonly reason: string };

/**
 * One write through `gate`, tried again while the broker did not answer it: the writes in flight
 * when a connection is cut (a server in lame-duck mode closes the controller's, a leader
 * election) all fail at once, and without a second try each was reported failed although the
 * broker answered again a moment later (20,000 nodes over a rolling restart: 256 nodes, one
 * `concurrency` window, missed the apply). A retry waits for the gate like any write, so it goes
 * out once a probe has got through; the write must be idempotent (a compare-and-set that finds its
 * own value is done). At most `attempts` tries; a failure that is not the broker's is not retried.
 */
export async function writeThroughGate<T>(
  gate: WriteGate,
  attempts: number,
  write: () => Promise<T>,
  judge: (e: unknown) => { readonly unavailable: boolean; readonly reason: string },
): Promise<GatedWrite<T>> {
  let last = '';
  for (let attempt = 1; ; attempt++) {
    const admission = await gate.admit();
    if (admission === 'stop')
      return attempt === 1
        ? { ok: false, tried: false, reason: gate.reason }
        : { ok: false, tried: true, reason: last };
    try {
      const value = await write();
      gate.succeeded();
      return { ok: true, value };
    } catch (e) {
      const { unavailable, reason } = judge(e);
      last = reason;
      await gate.failed({ unavailable, reason, probe: admission === 'probe' });
      if (!unavailable || attempt >= attempts) return { ok: false, tried: true, reason };
    }
  }
}
