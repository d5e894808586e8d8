import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { type LinkLoopState, type LinkPassOutcome, initialLinkLoop, nextLinkWait } from './link-loop.ts';

const pacing = {
  backoff: { baseMs: 1000, capMs: 30_000 },
  reconnectSpreadMs: 30_000,
  lameDuckSpreadMs: 1000,
};
/** A draw just under 1: each random wait is its window's upper bound minus one. */
const high = (): number => 0.999999;
const ended = (o: Partial<Extract<LinkPassOutcome, { kind: 'session-ended' }>> = {}): LinkPassOutcome => ({
  kind: 'session-ended',
  connected: true,
  lostBroker: false,
  lameDuck: false,
  renewed: false,
  ...o,
});

/** Runs outcomes from the start; returns the waits. */
function run(...outcomes: LinkPassOutcome[]): string[] {
  let s: LinkLoopState = initialLinkLoop;
  return outcomes.map((o) => {
    const n = nextLinkWait(s, o, pacing, high);
    s = n.state;
    return `${n.wait.kind} ${n.wait.ms}`;
  });
}

describe('link loop pacing (core/link-loop.ts)', () => {
  it('failed passes back off with full jitter, doubling up to the cap', () => {
    const f: LinkPassOutcome = { kind: 'failed' };
    assert.deepEqual(run(f, f, f, f, f, f, f), [
      'backoff 999',
      'backoff 1999',
      'backoff 3999',
      'backoff 7999',
      'backoff 15999',
      'backoff 29999',
      'backoff 29999',
    ]);
  });

  it('a lost broker is followed by the spread, and the next failure backs off from attempt 1', () => {
    const f: LinkPassOutcome = { kind: 'failed' };
    assert.deepEqual(run(f, f, f, ended({ lostBroker: true }), f, f), [
      'backoff 999',
      'backoff 1999',
      'backoff 3999',
      'spread 29999',
      'backoff 1999',
      'backoff 3999',
    ]);
  });

  it('a server in lame-duck mode: the short spread', () => {
    assert.deepEqual(run(ended({ lostBroker: true, lameDuck: true })), ['spread 999']);
  });

  it('renewed credentials: back at once (first backoff step), no spread', () => {
    assert.deepEqual(run(ended({ lostBroker: true, renewed: true })), ['backoff 999']);
  });

  it('a session that ended on an open connection resets the backoff', () => {
    const f: LinkPassOutcome = { kind: 'failed' };
    assert.deepEqual(run(f, f, f, ended(), f), [
      'backoff 999',
      'backoff 1999',
      'backoff 3999',
      'backoff 999',
      'backoff 1999',
    ]);
  });

  it('a session that never connected does not reset the backoff (flapping)', () => {
    const f: LinkPassOutcome = { kind: 'failed' };
    assert.deepEqual(run(f, f, ended({ connected: false, lostBroker: true })), [
      'backoff 999',
      'backoff 1999',
      'backoff 3999',
    ]);
  });

  it('credentials NATS refused: never a quick retry (half the cap to the cap), the backoff grows behind it', () => {
    const f: LinkPassOutcome = { kind: 'failed' };
    const r: LinkPassOutcome = { kind: 'refused' };
    assert.deepEqual(run(r, r, f), ['refused 29999', 'refused 29999', 'backoff 3999']);
    const low = nextLinkWait(initialLinkLoop, r, pacing, () => 0);
    assert.deepEqual(low, { wait: { kind: 'refused', ms: 15_000 }, state: { attempt: 1 } });
  });

  it('no identity yet: again at once, no random draw, state unchanged', () => {
    let draws = 0;
    const n = nextLinkWait({ attempt: 3 }, { kind: 'no-identity' }, pacing, () => {
      draws++;
      return 0.5;
    });
    assert.deepEqual(n, { wait: { kind: 'none', ms: 0 }, state: { attempt: 3 } });
    assert.equal(draws, 0);
  });

  it('every random wait draws exactly once', () => {
    for (const o of [
      { kind: 'failed' } as const,
      { kind: 'refused' } as const,
      ended(),
      ended({ lostBroker: true }),
    ]) {
      let draws = 0;
      nextLinkWait(initialLinkLoop, o, pacing, () => {
        draws++;
        return 0;
      });
      assert.equal(draws, 1, o.kind);
    }
  });
});
