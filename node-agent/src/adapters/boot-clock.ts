/**
 * The machine's clocks with Linux's CLOCK_BOOTTIME added (`Clock.bootMs`): /proc/uptime is that
 * clock (seconds since boot, counting suspend, never stepped), 10 ms resolution, which is plenty
 * for the clock-jump detector that reads it every 30 s. Where /proc/uptime is missing (not
 * Linux) the clock has no `bootMs`, and every forward jump counts as sleep.
 */
import { readFileSync } from 'node:fs';
import { type Clock, systemClock } from '@launchfleet/shared/clock';

function uptimeMs(): number | undefined {
  try {
    const s = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    return Number.isFinite(s) ? s * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/** systemClock plus `bootMs` when the platform has a boot clock. */
export function machineClock(): Clock {
  if (uptimeMs() === undefined) return systemClock;
  return { ...systemClock, bootMs: () => uptimeMs() ?? Number.NaN };
}
