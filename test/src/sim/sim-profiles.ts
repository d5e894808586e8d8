/**
 * What a simulated agent's jobs do, and how a fleet is split between such agents. Pure: the
 * mix is parsed from text and assigned by index, so the same command line always gives the
 * same fleet (agent i has the same profile in every run).
 */

/**
 * A simulated agent's behaviour.
 * - `healthy`: every job runs until it is stopped.
 * - `crash-looping`: every job exits 1 shortly after it starts; KeepAlive restarts it, launchd's
 *   throttle spaces the restarts, the supervisor reports throttled/crash-looping.
 * - `slow-start`: every spawn takes `slowStartMs` before the process exists (a slow exec or
 *   disk); the job shows as spawn_scheduled meanwhile, then runs.
 * - `churn`: healthy jobs, but the agent's fleet link goes away and comes back on a schedule
 *   (offline `churnOfflineMs`, online `churnOnlineMs`); the supervisor keeps running meanwhile.
 */
export type AgentProfile = 'healthy' | 'crash-looping' | 'slow-start' | 'churn';

export const agentProfiles: readonly AgentProfile[] = ['healthy', 'crash-looping', 'slow-start', 'churn'];

/** Shares of the fleet per profile (weights, not necessarily summing to 100). */
export type ProfileMix = Readonly<Record<AgentProfile, number>>;

export const allHealthy: ProfileMix = { healthy: 1, 'crash-looping': 0, 'slow-start': 0, churn: 0 };

/**
 * Parses `healthy=80,crash-looping=10,slow-start=5,churn=5` (short names `crash`, `slow`
 * accepted). Unnamed profiles get 0. An error is a value.
 */
export function parseMix(text: string): { ok: true; mix: ProfileMix } | { ok: false; error: string } {
  const mix: Record<AgentProfile, number> = { healthy: 0, 'crash-looping': 0, 'slow-start': 0, churn: 0 };
  const alias: Record<string, AgentProfile> = { crash: 'crash-looping', slow: 'slow-start' };
  for (const part of text.split(',')) {
    const m = /^\s*([a-z-]+)\s*=\s*(\d+(?:\.\d+)?)\s*$/.exec(part);
    if (!m) return { ok: false, error: `bad mix entry "${part.slice(0, 40)}" (want name=weight)` };
    const name = m[1] ?? '';
    const p = (agentProfiles as readonly string[]).includes(name) ? (name as AgentProfile) : alias[name];
    if (!p)
      return { ok: false, error: `unknown profile "${name.slice(0, 40)}" (${agentProfiles.join(', ')})` };
    mix[p] += Number(m[2]);
  }
  if (agentProfiles.every((p) => mix[p] === 0)) return { ok: false, error: 'the mix has no weight' };
  return { ok: true, mix };
}

/**
 * The profile of agent `i` of `n`: contiguous blocks in profile order, sized by largest
 * remainder so the counts add up to exactly `n`.
 */
export function profileCounts(mix: ProfileMix, n: number): Record<AgentProfile, number> {
  const total = agentProfiles.reduce((s, p) => s + mix[p], 0);
  const exact = agentProfiles.map((p) => (total > 0 ? (mix[p] / total) * n : 0));
  const counts = exact.map(Math.floor);
  let left = n - counts.reduce((s, c) => s + c, 0);
  const order = exact.map((e, i) => ({ i, r: e - Math.floor(e) })).sort((a, b) => b.r - a.r || a.i - b.i);
  for (const o of order) {
    if (left <= 0) break;
    counts[o.i] = (counts[o.i] ?? 0) + 1;
    left--;
  }
  const out: Record<AgentProfile, number> = { healthy: 0, 'crash-looping': 0, 'slow-start': 0, churn: 0 };
  agentProfiles.forEach((p, i) => (out[p] = counts[i] ?? 0));
  return out;
}

/** Assigns profiles to agents 0..n-1 (blocks in profile order). */
export function assignProfiles(mix: ProfileMix, n: number): AgentProfile[] {
  const counts = profileCounts(mix, n);
  return agentProfiles.flatMap((p) => Array.from({ length: counts[p] }, () => p));
}
