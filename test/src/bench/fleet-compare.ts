/**
 * `node test/dist/bench/fleet-compare.js LABEL=results.json ...`: fleet benchmark runs side by
 * side (scripts/bench-fleet.sh --servers: one run per nats-server version). Prints a Markdown
 * table of what a user of the fleet feels and what the broker was asked.
 */
import { readFileSync } from 'node:fs';
import type { FleetBenchResult } from './fleet-bench.ts';
import { ms, mb, pct } from './fleet-report.ts';

const runs = process.argv.slice(2).map((arg) => {
  const i = arg.indexOf('=');
  const label = i > 0 ? arg.slice(0, i) : arg;
  const file = i > 0 ? arg.slice(i + 1) : arg;
  return { label, r: JSON.parse(readFileSync(file, 'utf8')) as FleetBenchResult };
});
if (runs.length === 0) {
  process.stderr.write('usage: fleet-compare.js LABEL=results.json ...\n');
  process.exit(2);
}

const rows: [string, (r: FleetBenchResult) => string][] = [
  ['agents', (r) => String(r.agents)],
  [
    'enrolled / reporting',
    (r) =>
      `${r.enrolment?.enrolled ?? '-'} / ${r.enrolment?.reporting ?? '-'} in ${ms(r.enrolment?.allEnrolledMs ?? NaN)}`,
  ],
  ...[0, 1, 2].map(
    (k) =>
      [
        `apply ${k + 1}: running p50 / p99 (controller's view)`,
        (r: FleetBenchResult) => {
          const a = r.applies[k];
          return a ? `${ms(a.latencyMs.p50)} / ${ms(a.latencyMs.p99)} (${a.reached}/${a.expected})` : '-';
        },
      ] as [string, (r: FleetBenchResult) => string],
  ),
  [
    'apply CPU: controller / nats-server',
    (r) => r.applies.map((a) => `${pct(a.controllerCpuPct)} / ${pct(a.serverCpuPct)}`).join('; ') || '-',
  ],
  [
    'apply CPU-s per 1,000 agents: controller / broker / simulators',
    (r) =>
      r.applies
        .map(
          (a) =>
            `${a.cpuSecPer1k.controller.toFixed(2)} / ${a.cpuSecPer1k.server.toFixed(2)} / ${a.cpuSecPer1k.simulators.toFixed(2)}`,
        )
        .join('; ') || '-',
  ],
  [
    'apply: verified / running on the nodes p99 (their own clocks)',
    (r) =>
      r.applies.map((a) => `${ms(a.acceptedOnNodeMs.p99)} / ${ms(a.runningOnNodeMs.p99)}`).join('; ') || '-',
  ],
  ['health query p99', (r) => r.health.map((h) => ms(h.latencyMs.p99)).join(', ') || '-'],
  [
    'steady state CPU-s per 1,000 agents per minute: controller / broker',
    (r) =>
      r.steady
        ? `${r.steady.controller.cpuSecPer1kPerMin.toFixed(2)} / ${r.steady.server.cpuSecPer1kPerMin.toFixed(2)}`
        : '-',
  ],
  [
    'restart wave CPU-s per 1,000 agents: controller / broker / simulators',
    (r) =>
      r.reconnects
        .map(
          (c) =>
            `${c.cpuSecPer1k.controller.toFixed(2)} / ${c.cpuSecPer1k.server.toFixed(2)} / ${c.cpuSecPer1k.simulators.toFixed(2)}`,
        )
        .join(', ') || '-',
  ],
  [
    'broker restart: sessions back / all by',
    (r) => r.reconnects.map((c) => `${c.sessions} / ${ms(c.allSessionsMs)}`).join(', ') || '-',
  ],
  [
    'broker restart: apply made while away',
    (r) =>
      r.reconnects.map((c) => (c.awayApply ? `${c.awayApply.running} nodes` : 'failed')).join(', ') || '-',
  ],
  [
    'rolling restart: agents ever without a session / longest without one p99 (max)',
    (r) =>
      (r.rollings ?? [])
        .map((c) => `${c.agentsInterrupted} / ${ms(c.outageMs.p99)} (${ms(c.outageMs.max)})`)
        .join(', ') || '-',
  ],
  [
    'rolling restart: sessions at the end / all back by; its apply',
    (r) =>
      (r.rollings ?? [])
        .map(
          (c) =>
            `${c.sessions}/${c.onlineAgents} / ${ms(c.allDoneMs)}; ${c.apply ? `${c.apply.running}/${c.apply.expected} nodes` : '-'}`,
        )
        .join(', ') || '-',
  ],
  [
    'agent JetStream API requests / consumers (all phases)',
    (r) => {
      const v = Object.values(r.broker);
      return `${v.reduce((a, c) => a + (c['agentApiRequests'] ?? 0), 0)} / ${v.reduce((a, c) => a + (c['agentConsumerCreates'] ?? 0), 0)}`;
    },
  ],
  [
    'API errors / dropped at the queue limit',
    (r) => {
      const v = Object.values(r.broker);
      return `${v.reduce((a, c) => a + Math.max(0, c['jszApiErrors'] ?? 0), 0)} / ${v.reduce((a, c) => a + (c['limitReached'] ?? 0), 0)}`;
    },
  ],
  [
    'RSS per 1,000 agents, idle: controller / nats-server (all servers)',
    (r) => {
      const per = (bytes: number) => mb(bytes / (r.agents / 1000));
      return `${per(r.resources['controller idle']?.rssBytes ?? NaN)} / ${per(idleOf(r, 'nats-server', 'rssBytes'))}`;
    },
  ],
  [
    'idle CPU, % of a core: controller / nats-server (all servers) / simulators (all)',
    (r) =>
      `${pct(r.resources['controller idle']?.cpuPct ?? NaN)} / ${pct(idleOf(r, 'nats-server', 'cpuPct'))} / ${pct(idleOf(r, 'simulator', 'cpuPct'))}`,
  ],
  [
    'nats-server RSS idle / peak',
    (r) =>
      `${mb(r.resources['nats-server idle']?.rssBytes ?? NaN)} / ${mb(r.resources['nats-server peak']?.hwmBytes ?? NaN)}`,
  ],
];

/** The sum over every process named `prefix` or `prefix-N` (a cluster's servers, the simulators) at idle. */
function idleOf(r: FleetBenchResult, prefix: string, key: 'rssBytes' | 'cpuPct'): number {
  const named = Object.entries(r.resources).filter(([k]) => new RegExp(`^${prefix}(-\\d+)? idle$`).test(k));
  return named.length > 0 ? named.reduce((a, [, v]) => a + (v?.[key] ?? 0), 0) : NaN;
}

const head = ['', ...runs.map((x) => x.label.replace(/_/g, ' '))];
process.stdout.write(`| ${head.join(' | ')} |\n|${head.map(() => '---').join('|')}|\n`);
for (const [name, f] of rows) process.stdout.write(`| ${name} | ${runs.map((x) => f(x.r)).join(' | ')} |\n`);
