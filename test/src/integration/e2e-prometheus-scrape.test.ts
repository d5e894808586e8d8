/**
 * The shipped Prometheus configuration against the real thing: nats-server, the controller and
 * two enrolled agents as processes (support/local-fleet.ts), one agent scraped directly (its
 * /metrics listed in agents/*.yml, as deploy/prometheus/agents/README.md says) and one not (a
 * node behind NAT), a crash-looping job on both, and a real Prometheus (Debian's) running
 * deploy/prometheus/prometheus.yml and the shipped rules.
 *
 * The configuration and rules are COPIES of deploy/ with only addresses and timings changed
 * (the test checks that no other line differs). Checked: `promtool check metrics` passes clean
 * on both /metrics; every job alert fires exactly once per (node, job), each with its node id,
 * whichever source Prometheus saw it through; and the controller re-exports the crash-looping
 * job as throttled, as the agent says.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from '../support/nats-server.ts';
import { type LocalFleet, startLocalFleet } from '../support/local-fleet.ts';
import { eventually } from '../support/eventually.ts';
import { repoRoot } from '../support/paths.ts';
import { crashLoopPlist, differingLines, rewriteLines } from '../support/deploy-copies.ts';

const label = 'com.example.crashy';
const plist = crashLoopPlist(label, 2);

function run(cmd: string, args: string[], stdin: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, out }));
    child.stdin.end(stdin);
  });
}

interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

describe('e2e: the shipped Prometheus configuration scraping a controller and an agent', () => {
  let fleet: LocalFleet | undefined;
  let prometheus: ChildProcess | undefined;

  before(async () => {
    fleet = await startLocalFleet({ extraAgents: [{ name: 'nat', labels: {} }] });
  });

  after(async () => {
    if (prometheus?.pid !== undefined && prometheus.exitCode === null) {
      prometheus.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 2000).unref());
      try {
        process.kill(prometheus.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await fleet?.stop();
  });

  test('promtool check metrics is clean; each job alert fires once per (node, job); the controller says throttled too', async () => {
    const f = fleet;
    assert.ok(f);
    const natNode = f.extraNodeIds['nat'];
    assert.ok(natNode);
    const work = join(f.dir, 'prometheus');
    await mkdir(join(work, 'rules'), { recursive: true });
    await mkdir(join(work, 'agents'), { recursive: true });

    const file = join(work, `${label}.plist`);
    await writeFile(file, plist);
    const applied = await f.cli(['jobs', 'apply', file, '--all']);
    assert.equal(applied.code, 0, applied.stderr);

    // Both /metrics pass promtool's lint as they are.
    const agentMetricsUrl = `http://127.0.0.1:${f.agentMetricsPort}/metrics`;
    await eventually(async () => {
      const text = await (await fetch(agentMetricsUrl)).text();
      assert.match(
        text,
        new RegExp(
          `launchfleet_job_runs_total\\{domain="system",label="${label.replace(/\./g, '\\.')}"\\} [1-9]`,
        ),
      );
    }, 30_000);
    for (const url of [f.metricsUrl, agentMetricsUrl]) {
      const text = await (await fetch(url)).text();
      const r = await run('promtool', ['check', 'metrics'], text);
      assert.deepEqual([r.code, r.out], [0, ''], `promtool check metrics ${url}`);
    }
    assert.match(
      await (await fetch(agentMetricsUrl)).text(),
      new RegExp(`^launchfleet_agent_info\\{node="${f.nodeId}",hostname="[^"]+",version="[^"]+"\\} 1$`, 'm'),
    );

    // The shipped configuration and rules, with only addresses and timings changed.
    const [promPort, amPort] = [await freePort(), await freePort()];
    const shippedConfig = await readFile(join(repoRoot, 'deploy/prometheus/prometheus.yml'), 'utf8');
    let c = rewriteLines(
      shippedConfig,
      /^(\s+)(scrape_interval|evaluation_interval): \S+$/,
      (m) => `${m[1]}${m[2]}: 1s`,
    );
    assert.ok(c.changed >= 3, 'every interval is shortened');
    // Each shipped target becomes the local one: [what, shipped targets, local port, lines expected].
    const targets: readonly [string, string, number, number][] = [
      ['the controller targets', "'controller-1:9470', 'controller-2:9470'", f.metricsPort, 1],
      ['alertmanager (alerting and its scrape)', "'alertmanager:9093'", amPort, 2],
      ['prometheus itself', "'localhost:9090'", promPort, 1],
    ];
    for (const [what, shipped, port, lines] of targets) {
      c = rewriteLines(
        c.text,
        new RegExp(`^(\\s+- targets: )\\[${shipped.replaceAll('.', '\\.')}\\]$`),
        (m) => `${m[1]}['127.0.0.1:${port}']`,
      );
      assert.equal(c.changed, lines, what);
    }
    for (const line of differingLines(c.text, shippedConfig))
      assert.match(
        line,
        /^\s+((scrape_interval|evaluation_interval): 1s|- targets: \['127\.0\.0\.1:\d+'\])$/,
      );
    await writeFile(join(work, 'prometheus.yml'), c.text);
    // The agent Prometheus can reach, as agents/README.md says; the "nat" agent is not listed.
    await writeFile(join(work, 'agents', 'local.yml'), `- targets: ['127.0.0.1:${f.agentMetricsPort}']\n`);

    const shippedRules = await readFile(
      join(repoRoot, 'deploy/prometheus/rules/launchfleet-alerts.yml'),
      'utf8',
    );
    const a = rewriteLines(shippedRules, /^(\s+)for: \S+$/, (m) => `${m[1]}for: 2s`);
    const rules = rewriteLines(a.text, /^(\s+)interval: \S+$/, (m) => `${m[1]}interval: 1s`);
    for (const line of differingLines(shippedRules, rules.text))
      assert.match(line, /^\s+(for|interval): \S+$/);
    await writeFile(join(work, 'rules', 'launchfleet-alerts.yml'), rules.text);

    const log = await open(join(work, 'prometheus.log'), 'a');
    prometheus = spawn(
      'prometheus',
      [
        `--config.file=${join(work, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(work, 'data')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
      ],
      { stdio: ['ignore', log.fd, log.fd] },
    );
    await log.close();
    const query = async (q: string): Promise<PromSample[]> => {
      const r = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(q)}`);
      const body = (await r.json()) as { data?: { result?: PromSample[] } };
      return body.data?.result ?? [];
    };
    const firing = (name: string): Promise<PromSample[]> =>
      query(`ALERTS{alertstate="firing",alertname="${name}"}`);

    try {
      // Both scrape jobs are up.
      await eventually(async () => {
        const up = await query('up');
        const byJob: Record<string, string> = Object.fromEntries(
          up.map((s): [string, string] => [s.metric['job'] ?? '', s.value[1]]),
        );
        assert.equal(byJob['launchfleet-controller'], '1');
        assert.equal(byJob['launchfleet-agent'], '1');
      }, 30_000);
      // Both raw sources do hold the scraped node's crash loop: the agent's own series and
      // the controller's re-export.
      await eventually(async () => {
        const raw = await query(`launchfleet_job_crash_looping{label="${label}"} == 1`);
        assert.ok(
          raw.some((s) => s.metric['job'] === 'launchfleet-agent'),
          'the agent series',
        );
        assert.ok(
          raw.some((s) => s.metric['node'] === f.nodeId),
          'the controller series of the scraped node',
        );
        assert.ok(
          raw.some((s) => s.metric['node'] === natNode),
          'the controller series of the NAT node',
        );
      }, 60_000);
      // The data, not only the rule: the controller's throttled gauge of a crash-looping job is
      // the agent's (1 while it waits out ThrottleInterval), not 0.
      await eventually(async () => {
        const t = await query(
          `max_over_time(launchfleet_job_throttled{job="launchfleet-controller",node="${natNode}",label="${label}"}[30s])`,
        );
        assert.equal(t[0]?.value[1], '1');
      }, 60_000);

      for (const name of ['LaunchfleetJobCrashLooping', 'LaunchfleetJobThrottled']) {
        const got = await eventually(async () => {
          const s = await firing(name);
          assert.equal(s.length, 2, `${name}: ${JSON.stringify(s.map((x) => x.metric))}`);
          return s;
        }, 60_000);
        assert.deepEqual(
          got.map((s) => s.metric['node']).sort(),
          [f.nodeId, natNode].sort(),
          `${name}: one per node`,
        );
        for (const s of got) {
          assert.equal(s.metric['label'], label);
          assert.equal(s.metric['domain'], 'system');
          assert.equal(s.metric['instance'], undefined, 'no scrape labels');
        }
      }
      // And it stays once per (node, job) while both sources keep being scraped.
      for (let i = 0; i < 5; i++) {
        await new Promise((r) => setTimeout(r, 1000));
        const all = await query('ALERTS{alertstate="firing",alertname=~"LaunchfleetJob.*"}');
        const keys = all.map((s) => `${s.metric['alertname']}/${s.metric['node']}/${s.metric['label']}`);
        assert.equal(new Set(keys).size, keys.length, `no alert twice: ${keys.join(', ')}`);
        assert.ok(
          all.every((s) => (s.metric['node'] ?? '') !== ''),
          'every alert has a node',
        );
      }
    } catch (e) {
      const plog = await readFile(join(work, 'prometheus.log'), 'utf8').catch(() => '');
      throw new Error(`${(e as Error).message}\n--- prometheus log (tail) ---\n${plog.slice(-3000)}`, {
        cause: e,
      });
    }
  });
});
