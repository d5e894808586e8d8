/**
 * The controller's fleet-wide /metrics, with the names, help texts and labels of
 * shared/src/metrics/catalog.ts (the alert rules in deploy/prometheus/rules match on them).
 *
 * Series budget at 10,000 nodes (the catalog's note): per-label fleet counts
 * (`launchfleet_fleet_jobs{label,state}`), one last-seen series per node, and per-node job
 * series only for jobs in a problem state (throttled, crash-looping, failed): a healthy fleet
 * exports a few hundred series, not 10,000 x jobs. Fleet gauges are computed from the
 * aggregator's index at scrape time (`collect`), so nothing has to be kept in step.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Clock } from '@launchfleet/shared';
import { agentMetrics, controllerMetrics, jobMetrics, type MetricDef } from '@launchfleet/shared/metrics';
import type { FleetIndex } from '../fleet/core/fleet-index.ts';
import { countOtherSigner } from '../enrollment/core/rotation-nudge.ts';

const withNode = (d: MetricDef): string[] => ['node', ...d.labels];

const DEFAULT_PREFIX = 'launchfleet_controller_';
/** prom-client's default gauges whose names end in `_total`. */
const DEFAULT_TOTAL_GAUGES = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
] as const;

export class FleetMetrics {
  readonly registry = new Registry();
  readonly apiSeconds: Histogram<'method' | 'code'>;
  readonly healthQuerySeconds: Histogram;

  /** `nodeSigner`: the public key that signs node credentials now (key rotation gauge). */
  constructor(index: FleetIndex, clock: Clock, nodeSigner?: () => string) {
    const registers = [this.registry];
    if (nodeSigner)
      new Gauge({
        name: controllerMetrics.nodesOtherSigner.name,
        help: controllerMetrics.nodesOtherSigner.help,
        labelNames: controllerMetrics.nodesOtherSigner.labels,
        registers,
        collect() {
          const c = countOtherSigner(index.nodes(), nodeSigner(), clock.wallMs());
          for (const state of ['renewable', 'expired', 'unrenewable'] as const) this.set({ state }, c[state]);
        },
      });
    new Gauge({
      name: controllerMetrics.nodes.name,
      help: controllerMetrics.nodes.help,
      labelNames: controllerMetrics.nodes.labels,
      registers,
      collect() {
        const now = clock.wallMs();
        let online = 0;
        let offline = 0;
        for (const n of index.nodes()) {
          if (!n.registered || n.revokedAt !== undefined) continue;
          if (index.presence(n, now) === 'online') online++;
          else offline++;
        }
        this.set({ presence: 'online' }, online);
        this.set({ presence: 'offline' }, offline);
      },
    });
    new Gauge({
      name: controllerMetrics.nodeLastSeen.name,
      help: controllerMetrics.nodeLastSeen.help,
      labelNames: controllerMetrics.nodeLastSeen.labels,
      registers,
      collect() {
        this.reset();
        for (const n of index.nodes()) {
          if (n.revokedAt !== undefined) continue;
          const seen = index.lastSeen(n);
          if (seen > 0) this.set({ node: n.nodeId }, seen / 1000);
        }
      },
    });
    new Gauge({
      name: controllerMetrics.fleetJobs.name,
      help: controllerMetrics.fleetJobs.help,
      labelNames: controllerMetrics.fleetJobs.labels,
      registers,
      collect() {
        this.reset();
        for (const label of index.labels())
          for (const [state, count] of index.stateCounts(label)) this.set({ label, state }, count);
      },
    });
    // Per-node series for problem jobs only. Each gauge walks the problem entries (few in a
    // healthy fleet) and takes its own value.
    type Entry = ReturnType<FleetIndex['problemEntries']> extends Iterable<infer E> ? E : never;
    const problemGauge = (d: MetricDef, value: (e: Entry) => number | undefined): void => {
      new Gauge({
        name: d.name,
        help: d.help,
        labelNames: withNode(d),
        registers,
        collect() {
          this.reset();
          for (const e of index.problemEntries()) {
            const v = value(e);
            const domain = e.node.status?.details?.[e.label]?.domain ?? 'system';
            if (v !== undefined) this.set({ node: e.node.nodeId, domain, label: e.label }, v);
          }
        },
      });
    };
    const detail = (e: Entry) => e.node.status?.details?.[e.label];
    // A job is in ONE problem (crash-looping first), but its gauges are the agent's facts: a
    // crash-looping job waits out its throttle most of the time, so its throttled gauge says 1
    // here as on the agent's own /metrics.
    problemGauge(jobMetrics.throttled, (e) =>
      e.problem === 'throttled' || detail(e)?.throttled === true ? 1 : 0,
    );
    problemGauge(jobMetrics.crashLooping, (e) =>
      e.problem === 'crash_looping' || detail(e)?.crashLooping === true ? 1 : 0,
    );
    problemGauge(jobMetrics.loadFailed, (e) => (e.problem === 'failed' ? 1 : 0));
    problemGauge(jobMetrics.successiveCrashes, (e) => detail(e)?.successiveCrashes ?? 0);
    problemGauge(jobMetrics.lastExitStatus, (e) => detail(e)?.lastExitStatus);
    // Agent counters re-exported per node, only where they are above zero.
    const counter = (d: MetricDef, field: 'signatureRefusals' | 'drift', by: string): void => {
      new Counter({
        name: d.name,
        help: d.help,
        labelNames: withNode(d),
        registers,
        collect() {
          this.reset();
          for (const n of index.nodes()) {
            const m = n.status?.counters?.[field];
            if (!m) continue;
            for (const [k, v] of Object.entries(m)) if (v > 0) this.inc({ node: n.nodeId, [by]: k }, v);
          }
        },
      });
    };
    counter(agentMetrics.signatureRefusals, 'signatureRefusals', 'reason');
    counter(agentMetrics.drift, 'drift', 'kind');
    this.apiSeconds = new Histogram({
      name: controllerMetrics.apiSeconds.name,
      help: controllerMetrics.apiSeconds.help,
      labelNames: ['method', 'code'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.healthQuerySeconds = new Histogram({
      name: controllerMetrics.healthQuerySeconds.name,
      help: controllerMetrics.healthQuerySeconds.help,
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5],
      registers,
    });
    collectDefaultMetrics({ register: this.registry, prefix: DEFAULT_PREFIX });
    // prom-client names three gauges `..._total`, which Prometheus keeps for counters
    // (`promtool check metrics` fails on them). The per-type gauges of the same facts stay
    // (`sum(launchfleet_controller_nodejs_active_handles)` is the total).
    for (const n of DEFAULT_TOTAL_GAUGES) this.registry.removeSingleMetric(`${DEFAULT_PREFIX}${n}`);
  }
}
