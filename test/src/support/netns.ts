/**
 * A network namespace for one agent process (docs/fault-suite.md, fault-partition): made by the
 * test with `ip netns add` and a veth pair on a private /30 (10.200.N.0/30: the host's end is .1,
 * the namespace's .2; ../shared/design/ENVIRONMENT.md), and partitioned the way a network fails:
 * iptables DROP inside the namespace (nothing is reset or closed, packets just vanish), or a
 * random share of packets dropped in both directions (iptables `statistic`). Needs root.
 *
 * Only the namespace's own tables are changed; removing the namespace removes the veth pair.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export interface AgentNetns {
  /** The namespace's name (`ip netns exec NAME ...`). */
  readonly name: string;
  /** The host's end of the veth pair: where the namespace reaches the host (nats-server listens here). */
  readonly hostAddress: string;
  /** The namespace's end. */
  readonly nsAddress: string;
  /** Drops every packet into and out of the namespace (a silent partition). */
  cut(): void;
  /** Drops each packet into and out of the namespace with probability `p` (0 < p < 1). */
  loss(p: number): void;
  /** Removes every drop rule: the link works again. */
  heal(): void;
  /** The namespace's iptables rules with their packet counters (`iptables -S -v`), for the log. */
  rules(): string;
  /** Deletes the namespace and its veth pair (idempotent; processes left in it lose their network). */
  remove(): void;
}

const run = (args: readonly string[]): string =>
  execFileSync(args[0] ?? 'ip', args.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });

/** Why network namespaces cannot be made here, or undefined when they can (a probe namespace is made and removed). */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root for ip netns and iptables';
  const probe = `lfprobe-${randomBytes(3).toString('hex')}`;
  try {
    run(['ip', 'netns', 'add', probe]);
    run(['ip', 'netns', 'exec', probe, 'iptables', '-S']);
    return undefined;
  } catch (e) {
    return `ip netns or iptables not permitted here: ${String((e as Error).message).split('\n')[0]}`;
  } finally {
    try {
      run(['ip', 'netns', 'del', probe]);
    } catch {
      // never made
    }
  }
}

/** Every namespace made by this process, removed at exit even when a test's `after` never ran. */
const made = new Set<AgentNetns>();
process.once('exit', () => {
  for (const n of made) n.remove();
});

/** Makes the namespace, its veth pair and addresses; both ends up, loopback up inside. */
export function makeAgentNetns(): AgentNetns {
  const tag = randomBytes(3).toString('hex');
  const name = `lf-part-${tag}`;
  const hostIf = `lfp${tag}h`;
  const nsIf = `lfp${tag}n`;
  // A /30 no interface of the host has yet (other tests may have made their own).
  const used = run(['ip', '-4', '-o', 'addr', 'show']);
  let subnet = '';
  for (let i = 0; i < 50 && !subnet; i++) {
    const x = 100 + Math.floor(Math.random() * 100);
    const y = 4 * Math.floor(Math.random() * 60);
    if (!used.includes(`10.200.${x}.${y + 1}/`)) subnet = `10.200.${x}.${y}`;
  }
  if (!subnet) throw new Error('no free 10.200.x.y/30 found');
  const base = subnet.split('.').map(Number) as [number, number, number, number];
  const hostAddress = `${base[0]}.${base[1]}.${base[2]}.${base[3] + 1}`;
  const nsAddress = `${base[0]}.${base[1]}.${base[2]}.${base[3] + 2}`;
  const inNs = (...args: string[]) => run(['ip', 'netns', 'exec', name, ...args]);
  let removed = false;
  const netns: AgentNetns = {
    name,
    hostAddress,
    nsAddress,
    cut() {
      netns.heal();
      inNs('iptables', '-A', 'INPUT', '-j', 'DROP');
      inNs('iptables', '-A', 'OUTPUT', '-j', 'DROP');
    },
    loss(p) {
      netns.heal();
      for (const chain of ['INPUT', 'OUTPUT'])
        inNs(
          'iptables',
          '-A',
          chain,
          '-m',
          'statistic',
          '--mode',
          'random',
          '--probability',
          String(p),
          '-j',
          'DROP',
        );
    },
    heal() {
      inNs('iptables', '-F', 'INPUT');
      inNs('iptables', '-F', 'OUTPUT');
    },
    rules: () => inNs('iptables', '-S', '-v').trim(),
    remove() {
      if (removed) return;
      removed = true;
      made.delete(netns);
      try {
        run(['ip', 'netns', 'del', name]);
      } catch {
        // gone already
      }
      try {
        run(['ip', 'link', 'del', hostIf]);
      } catch {
        // went with the namespace (the usual case)
      }
    },
  };
  run(['ip', 'netns', 'add', name]);
  made.add(netns);
  try {
    run(['ip', 'link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf]);
    run(['ip', 'link', 'set', nsIf, 'netns', name]);
    run(['ip', 'addr', 'add', `${hostAddress}/30`, 'dev', hostIf]);
    run(['ip', 'link', 'set', hostIf, 'up']);
    inNs('ip', 'addr', 'add', `${nsAddress}/30`, 'dev', nsIf);
    inNs('ip', 'link', 'set', nsIf, 'up');
    inNs('ip', 'link', 'set', 'lo', 'up');
  } catch (e) {
    netns.remove();
    throw e;
  }
  return netns;
}
