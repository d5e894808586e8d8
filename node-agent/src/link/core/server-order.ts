/**
 * Which NATS server a node prefers, as a pure function: every node orders the controller's
 * servers by rendezvous hashing (highest random weight) of its node id with each server, and
 * connects in that order (`noRandomize`). So each server is the first choice ("home") of an
 * even share of the fleet, and when one server goes away its nodes' second choices split evenly
 * over the rest: a permutation per node, not a rotation, so no server inherits a whole share.
 *
 * Why it matters (test/bench/FLEET-RESULTS.md): with the client's random order, the agents of a
 * server restarted in a rolling restart went to the others at random, the server restarted just
 * before started empty, and the last server held most of the fleet when its turn came (20,000
 * agents: ~14,000 sessions left after step 2, ~2,000 after step 3). With a home server, a
 * node returns home when it can (link-session.ts moves it back, make-before-break), and the
 * fleet stays spread as the servers are.
 */

/** The servers in this node's order of preference (the first is its home server). */
export function serverPreference(nodeId: string, urls: readonly string[]): string[] {
  return urls
    .map((url, i) => ({ url, i, w: weight(nodeId, url) }))
    .sort((a, b) => b.w - a.w || a.i - b.i)
    .map((x) => x.url);
}

/**
 * How nats.js names a server (`getServer()`: `host:port`) for a URL as configured:
 * `nats://10.0.0.1:4222` and `tls://[::1]` give `10.0.0.1:4222` and `[::1]:4222`.
 */
export function serverKey(url: string): string {
  let s = url.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  s = s.slice(s.lastIndexOf('@') + 1).replace(/\/.*$/, '');
  const hasPort = s.startsWith('[') ? /\]:\d+$/.test(s) : /:\d+$/.test(s);
  return hasPort ? s : `${s}:4222`;
}

/** Where a node whose server is going away (lame duck) may move: the others, in its order. */
export function otherServers(preference: readonly string[], current: string): string[] {
  return preference.filter((u) => serverKey(u) !== current);
}

/** Whether `current` (nats.js's `host:port`) is this node's home server. */
export function isHome(preference: readonly string[], current: string): boolean {
  return preference.length === 0 || serverKey(preference[0] ?? '') === current;
}

/**
 * `servers` starting `by` places further on, wrapping round: where a session starts after `by`
 * set-ups in a row failed on connections that were made (a server cut off from its cluster takes
 * clients it cannot serve; trying it first for ever would keep the node off the fleet).
 */
export function rotated(servers: readonly string[], by: number): string[] {
  const n = servers.length;
  const k = n > 0 && Number.isInteger(by) && by > 0 ? by % n : 0;
  return [...servers.slice(k), ...servers.slice(0, k)];
}

/** 32-bit FNV-1a of `nodeId` and `url`, finished with murmur3's mixer (every bit counts). */
function weight(nodeId: string, url: string): number {
  let h = 0x811c9dc5;
  for (const ch of `${nodeId}\u0000${url}`) {
    h ^= ch.codePointAt(0) ?? 0;
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
