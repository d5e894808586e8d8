import type { FakeClock } from '@launchfleet/shared/testing';

/** Lets pending promise chains (spawn resolution, re-listing) run. */
export async function flush(rounds = 2): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}

/**
 * Advances a FakeClock by `ms` in steps of `stepMs`, letting promise chains run between steps,
 * so asynchronous port calls happen at (almost) the virtual time they would in reality.
 */
export async function advance(clock: FakeClock, ms: number, stepMs = 10): Promise<void> {
  await flush();
  let left = ms;
  while (left > 0) {
    const d = Math.min(stepMs, left);
    clock.advance(d);
    left -= d;
    await flush();
  }
}
