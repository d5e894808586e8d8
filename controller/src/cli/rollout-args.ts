/**
 * Parsing `launchfleet rollout start` flags (pure): counts (`3`, `10%`), lists of counts
 * (`25%,50%,100%`) and durations (`30s`, `5m`, `1.5h`, `500ms`; a bare number is seconds).
 * Errors are values (a sentence naming the flag), never exceptions.
 */
import { type Result, err, ok } from '@launchfleet/shared';

/** The wire RolloutCount. */
export type WireCount = { nodes: number } | { percent: number };

export function parseCount(s: string, flag: string): Result<WireCount> {
  const t = s.trim();
  const pct = /^(\d+(?:\.\d+)?)%$/.exec(t);
  if (pct) {
    const p = Number(pct[1]);
    return p <= 100 ? ok({ percent: p }) : err(`${flag}: a percentage is at most 100%`);
  }
  if (/^\d+$/.test(t) && Number(t) <= 100_000) return ok({ nodes: Number(t) });
  return err(
    `${flag}: expected a number of nodes (3) or a percentage (10%), not ${JSON.stringify(s.slice(0, 20))}`,
  );
}

export function parseCounts(s: string, flag: string): Result<WireCount[]> {
  const parts = s.split(',').filter((x) => x.trim() !== '');
  if (parts.length === 0 || parts.length > 1000) return err(`${flag}: give 1..1000 comma-separated counts`);
  const out: WireCount[] = [];
  for (const p of parts) {
    const c = parseCount(p, flag);
    if (!c.ok) return c;
    out.push(c.value);
  }
  return ok(out);
}

const units: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };

/** A duration in seconds. */
export function parseSeconds(s: string, flag: string): Result<number> {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(s.trim());
  if (!m)
    return err(`${flag}: expected a duration such as 30s, 5m or 1h, not ${JSON.stringify(s.slice(0, 20))}`);
  const v = Number(m[1]) * (units[m[2] ?? 's'] ?? 1);
  return v <= 7 * 24 * 3600 ? ok(v) : err(`${flag}: at most 7 days`);
}
