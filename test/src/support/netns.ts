/**
 * A network namespace for one agent process (docs/fault-suite.md, fault-partition): made by the
 * test with `ip netns add` and a veth pair on a private /30 (10.200.N.0/30: the host's end is .1,
 * the namespace's .2; docs/engineering.md, "Networks for tests"), and partitioned the way a network fails:
 * iptables DROP inside the namespace (nothing is reset or closed, packets just vanish), or a
 * random share of packets dropped in both directions (iptables `statistic`). Needs root.
 *
 * Only the namespace's own tables are changed; removing the namespace removes the veth pair.
 *
 * Several agents (fault-partition-multi): `makeNetnsGroup(n)` makes n namespaces whose veth pairs
 * hang off one bridge on the host (10.200.N.0/24, the bridge .1, the namespaces .10, .11, ...),
 * so one nats-server address serves them all and each namespace is cut on its own; `dropIn` /
 * `dropOut` drop one direction only (broker -> agent, agent -> broker).
 *
 * Bandwidth (fault-bandwidth): `limit` shapes both ends of the veth pair with `tc qdisc ... tbf`
 * (the host's end is a device of this namespace's pair, removed with it); `shaped` reads back what
 * each shaper sent, dropped and held over the limit.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';

export interface AgentNetns {
  /** The namespace's name (`ip netns exec NAME ...`). */
  readonly name: string;
  /** The host's end of the veth pair: where the namespace reaches the host (nats-server listens here). */
  readonly hostAddress: string;
  /** The namespace's end. */
  readonly nsAddress: string;
  /** Drops every packet into and out of the namespace (a silent partition). */
  cut(): void;
  /**
   * As `cut`, but the namespace's own loopback keeps working: a process in it still answers a
   * client in the same namespace (fault-controller-partition: the CLI reaches the cut controller).
   */
  cutLink(): void;
  /** Drops each packet into and out of the namespace with probability `p` (0 < p < 1). */
  loss(p: number): void;
  /** Drops packets coming into the namespace only (broker -> agent), each with probability `p` (1: all). */
  dropIn(p?: number): void;
  /** Drops packets leaving the namespace only (agent -> broker), each with probability `p` (1: all). */
  dropOut(p?: number): void;
  /** Whether the process `pid` lives in this namespace (its /proc/PID/ns/net is this one). */
  holds(pid: number): boolean;
  /** Removes every drop rule: the link works again. */
  heal(): void;
  /**
   * Shapes the link both ways with a token bucket (`tc qdisc ... tbf`, on the namespace's end for
   * agent -> broker and on the host's end for broker -> agent): `rateKbit` kbit/s, a `burstBytes`
   * bucket, and at most `latencyMs` of queue (packets beyond it are dropped). Nothing is cut.
   */
  limit(rateKbit: number, burstBytes?: number, latencyMs?: number): void;
  /** Removes the shaping (idempotent). */
  unlimit(): void;
  /** What each end's shaper did since `limit`: bytes and packets sent, dropped, over the limit. */
  shaped(): { readonly out: QdiscStats; readonly in: QdiscStats };
  /** The namespace's iptables rules with their packet counters (`iptables -S -v`), for the log. */
  rules(): string;
  /** Deletes the namespace and its veth pair (idempotent; processes left in it lose their network). */
  remove(): void;
}

/** `tc -s qdisc` of one device's root tbf (zeros when none). */
export interface QdiscStats {
  readonly bytes: number;
  readonly packets: number;
  readonly dropped: number;
  readonly overlimits: number;
}

function parseQdisc(text: string): QdiscStats {
  const m = /Sent (\d+) bytes (\d+) pkt \(dropped (\d+), overlimits (\d+)/.exec(text);
  return {
    bytes: Number(m?.[1] ?? 0),
    packets: Number(m?.[2] ?? 0),
    dropped: Number(m?.[3] ?? 0),
    overlimits: Number(m?.[4] ?? 0),
  };
}

/** Why tc tbf cannot shape a namespace's link here (undefined: it can); after netnsUnavailable. */
export function tbfUnavailable(): string | undefined {
  const probe = `lfprobe-${randomBytes(3).toString('hex')}`;
  try {
    run(['ip', 'netns', 'add', probe]);
    run([
      'ip',
      'netns',
      'exec',
      probe,
      'tc',
      'qdisc',
      'add',
      'dev',
      'lo',
      'root',
      'tbf',
      'rate',
      '1mbit',
      'burst',
      '4kb',
      'latency',
      '100ms',
    ]);
    return undefined;
  } catch (e) {
    return `tc tbf not available here: ${String((e as Error).message).split('\n')[0]}`;
  } finally {
    try {
      run(['ip', 'netns', 'del', probe]);
    } catch {
      // never made
    }
  }
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
  // A /30 no interface of the host has yet (other tests may have made their own).
  const used = run(['ip', '-4', '-o', 'addr', 'show']);
  let subnet = '';
  for (let i = 0; i < 50 && !subnet; i++) {
    const x = 100 + Math.floor(Math.random() * 100);
    const y = 4 * Math.floor(Math.random() * 60);
    if (!used.includes(`10.200.${x}.${y + 1}/`) && !used.includes(`10.200.${x}.1/24`))
      subnet = `10.200.${x}.${y}`;
  }
  if (!subnet) throw new Error('no free 10.200.x.y/30 found');
  const base = subnet.split('.').map(Number) as [number, number, number, number];
  const hostAddress = `${base[0]}.${base[1]}.${base[2]}.${base[3] + 1}`;
  const nsAddress = `${base[0]}.${base[1]}.${base[2]}.${base[3] + 2}`;
  return makeNetns(hostAddress, `${nsAddress}/30`, { hostCidr: `${hostAddress}/30` });
}

/** n namespaces on one bridge: one host address (nats-server listens there) reaches them all. */
export interface NetnsGroup {
  /** The bridge's address on the host. */
  readonly hostAddress: string;
  readonly members: readonly AgentNetns[];
  /** Removes every namespace and the bridge (idempotent). */
  remove(): void;
}

export function makeNetnsGroup(n: number): NetnsGroup {
  const used = run(['ip', '-4', '-o', 'addr', 'show']);
  let x = -1;
  for (let i = 0; i < 50 && x < 0; i++) {
    const c = 100 + Math.floor(Math.random() * 100);
    if (!used.includes(`10.200.${c}.`)) x = c;
  }
  if (x < 0) throw new Error('no free 10.200.x.0/24 found');
  const bridge = `lfbr${randomBytes(3).toString('hex')}`;
  const hostAddress = `10.200.${x}.1`;
  const members: AgentNetns[] = [];
  let removed = false;
  const group: NetnsGroup = {
    hostAddress,
    members,
    remove() {
      if (removed) return;
      removed = true;
      groups.delete(group);
      for (const m of members) m.remove();
      try {
        run(['ip', 'link', 'del', bridge]);
      } catch {
        // never made or gone
      }
    },
  };
  groups.add(group);
  try {
    run(['ip', 'link', 'add', bridge, 'type', 'bridge']);
    run(['ip', 'addr', 'add', `${hostAddress}/24`, 'dev', bridge]);
    run(['ip', 'link', 'set', bridge, 'up']);
    for (let i = 0; i < n; i++) members.push(makeNetns(hostAddress, `10.200.${x}.${10 + i}/24`, { bridge }));
  } catch (e) {
    group.remove();
    throw e;
  }
  return group;
}

const groups = new Set<NetnsGroup>();
process.once('exit', () => {
  for (const g of groups) g.remove();
});

/**
 * One namespace with a veth pair: the namespace's end gets `nsCidr`; the host's end either gets
 * `hostCidr` (a point-to-point /30) or joins `bridge` (whose address is `hostAddress`).
 */
function makeNetns(
  hostAddress: string,
  nsCidr: string,
  where: { readonly hostCidr?: string; readonly bridge?: string },
): AgentNetns {
  const tag = randomBytes(3).toString('hex');
  const name = `lf-part-${tag}`;
  const hostIf = `lfp${tag}h`;
  const nsIf = `lfp${tag}n`;
  const nsAddress = nsCidr.split('/')[0] ?? '';
  let inode = -1;
  const inNs = (...args: string[]) => run(['ip', 'netns', 'exec', name, ...args]);
  const drop = (chain: 'INPUT' | 'OUTPUT', p: number) =>
    inNs(
      'iptables',
      '-A',
      chain,
      ...(p < 1 ? ['-m', 'statistic', '--mode', 'random', '--probability', String(p)] : []),
      '-j',
      'DROP',
    );
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
    cutLink() {
      netns.heal();
      inNs('iptables', '-A', 'INPUT', '!', '-i', 'lo', '-j', 'DROP');
      inNs('iptables', '-A', 'OUTPUT', '!', '-o', 'lo', '-j', 'DROP');
    },
    loss(p) {
      netns.heal();
      drop('INPUT', p);
      drop('OUTPUT', p);
    },
    dropIn(p = 1) {
      netns.heal();
      drop('INPUT', p);
    },
    dropOut(p = 1) {
      netns.heal();
      drop('OUTPUT', p);
    },
    holds(pid) {
      try {
        return readlinkSync(`/proc/${pid}/ns/net`) === `net:[${inode}]`;
      } catch {
        return false;
      }
    },
    heal() {
      inNs('iptables', '-F', 'INPUT');
      inNs('iptables', '-F', 'OUTPUT');
    },
    rules: () => inNs('iptables', '-S', '-v').trim(),
    limit(rateKbit, burstBytes = 4096, latencyMs = 500) {
      const tbf = [
        'root',
        'tbf',
        'rate',
        `${rateKbit}kbit`,
        'burst',
        String(burstBytes),
        'latency',
        `${latencyMs}ms`,
      ];
      inNs('tc', 'qdisc', 'replace', 'dev', nsIf, ...tbf);
      run(['tc', 'qdisc', 'replace', 'dev', hostIf, ...tbf]);
    },
    unlimit() {
      for (const args of [
        ['ip', 'netns', 'exec', name, 'tc', 'qdisc', 'del', 'dev', nsIf, 'root'],
        ['tc', 'qdisc', 'del', 'dev', hostIf, 'root'],
      ]) {
        try {
          run(args);
        } catch {
          // no shaper there (never limited, or removed already)
        }
      }
    },
    shaped: () => ({
      out: parseQdisc(inNs('tc', '-s', 'qdisc', 'show', 'dev', nsIf, 'root')),
      in: parseQdisc(run(['tc', '-s', 'qdisc', 'show', 'dev', hostIf, 'root'])),
    }),
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
    if (where.bridge) run(['ip', 'link', 'set', hostIf, 'master', where.bridge]);
    else run(['ip', 'addr', 'add', where.hostCidr ?? `${hostAddress}/30`, 'dev', hostIf]);
    run(['ip', 'link', 'set', hostIf, 'up']);
    inNs('ip', 'addr', 'add', nsCidr, 'dev', nsIf);
    inNs('ip', 'link', 'set', nsIf, 'up');
    inNs('ip', 'link', 'set', 'lo', 'up');
    inode = statSync(`/run/netns/${name}`).ino;
  } catch (e) {
    netns.remove();
    throw e;
  }
  return netns;
}

/** How many live processes in namespace `ns` have exactly this command line (space-joined). */
export function instancesIn(ns: AgentNetns, cmd: string): number {
  return commandsIn(ns, cmd).filter((c) => c === cmd).length;
}

/** The command lines (space-joined) of the live processes in `ns` that start with `prefix`. */
export function commandsIn(ns: AgentNetns, prefix: string): string[] {
  const out: string[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').join(' ').trim();
      if (cmd.startsWith(prefix) && ns.holds(Number(d))) out.push(cmd);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}
