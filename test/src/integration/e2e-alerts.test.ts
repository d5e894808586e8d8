/**
 * Alerts end to end, every part real and on loopback: nats-server, the controller and an agent
 * as processes (support/local-fleet.ts), a crash-looping job applied with the CLI, Prometheus
 * scraping the controller's /metrics every second with the project's alert rules, Alertmanager
 * with the project's routing, and a webhook receiver in this test.
 *
 * The rules and the Alertmanager config are COPIES of deploy/ with only timings changed (`for:`,
 * the group `interval:`, group_wait/group_interval/repeat_interval) and the webhook URL: the
 * expressions, labels and routes under test are exactly the shipped ones (the test checks that
 * no other line differs). The controller's own alert event must arrive on the gRPC stream too
 * (`launchfleet events --follow --json`).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdir, open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { freePort } from '../support/nats-server.ts';
import { type LocalFleet, startLocalFleet } from '../support/local-fleet.ts';
import { eventually } from '../support/eventually.ts';
import { repoRoot } from '../support/paths.ts';
import { crashLoopPlist, differingLines, rewriteLines } from '../support/deploy-copies.ts';

/** `eventually` for a synchronous condition (state filled in by event handlers). */
const until = <T>(fn: () => T, timeoutMs: number, intervalMs?: number): Promise<T> =>
  eventually(() => Promise.resolve().then(fn), timeoutMs, intervalMs);

const label = 'com.example.crashy';
const plist = crashLoopPlist(label, 1);

interface WebhookAlert {
  status: string;
  labels: Record<string, string>;
}

interface Proc {
  child: ChildProcess;
  exited: Promise<void>;
}

async function startProc(cmd: string, args: string[], log: string): Promise<Proc> {
  const fh = await open(log, 'a');
  const child = spawn(cmd, args, { stdio: ['ignore', fh.fd, fh.fd], detached: true });
  await fh.close();
  const exited = new Promise<void>((r) => {
    child.once('exit', () => r());
    child.once('error', () => r());
  });
  return { child, exited };
}

async function stopProc(p: Proc | undefined): Promise<void> {
  if (!p?.child.pid) return;
  if (p.child.exitCode === null && p.child.signalCode === null) {
    p.child.kill('SIGTERM');
    await Promise.race([p.exited, new Promise((r) => setTimeout(r, 5000).unref())]);
  }
  try {
    process.kill(-p.child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

describe('e2e: a crash-looping job alerts through Prometheus + Alertmanager and on the gRPC event stream', () => {
  let fleet: LocalFleet | undefined;
  let prometheus: Proc | undefined;
  let alertmanager: Proc | undefined;
  let hook: Server | undefined;
  let events: ChildProcess | undefined;
  const received: WebhookAlert[] = [];
  const grpcEvents: Record<string, unknown>[] = [];

  before(async () => {
    fleet = await startLocalFleet({ controllerArgs: ['--alert-for', 'LaunchfleetJobCrashLooping=2s'] });
  });

  after(async () => {
    events?.kill('SIGTERM');
    await stopProc(prometheus);
    await stopProc(alertmanager);
    await new Promise<void>((r) => (hook ? hook.close(() => r()) : r()));
    await fleet?.stop();
  });

  test('LaunchfleetJobCrashLooping reaches the webhook with node, domain and label; the controller event arrives too', async () => {
    const f = fleet;
    assert.ok(f);
    const work = join(f.dir, 'alerting');
    await mkdir(join(work, 'rules'), { recursive: true });

    // The webhook receiver.
    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        try {
          const doc = JSON.parse(body) as { alerts?: WebhookAlert[] };
          received.push(...(doc.alerts ?? []));
        } catch {
          // not ours
        }
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => hook?.listen(0, '127.0.0.1', () => r()));
    const hookPort = (hook.address() as { port: number }).port;

    // The shipped rules with only the timings shortened.
    const shippedRules = await readFile(
      join(repoRoot, 'deploy/prometheus/rules/launchfleet-alerts.yml'),
      'utf8',
    );
    const a = rewriteLines(shippedRules, /^(\s+)for: \S+$/, (m) => `${m[1]}for: 2s`);
    const rules = rewriteLines(a.text, /^(\s+)interval: \S+$/, (m) => `${m[1]}interval: 1s`);
    assert.ok(a.changed >= 8, `every for: is shortened (${a.changed})`);
    assert.equal(rules.changed, 4, 'every group interval is shortened');
    for (const line of differingLines(shippedRules, rules.text))
      assert.match(line, /^\s+(for|interval): \S+$/, 'only timing lines differ from deploy/');
    await writeFile(join(work, 'rules', 'launchfleet-alerts.yml'), rules.text);

    // The shipped Alertmanager config with short timings and the test's webhook.
    const shippedAm = await readFile(join(repoRoot, 'deploy/alertmanager/alertmanager.yml'), 'utf8');
    const t1 = rewriteLines(shippedAm, /^(\s+)(group_wait|group_interval|repeat_interval): \S+$/, (m) =>
      m[2] === 'repeat_interval' ? `${m[1]}${m[2]}: 1h` : `${m[1]}${m[2]}: 1s`,
    );
    const am = rewriteLines(
      t1.text,
      /^(\s+- url: )'http:\/\/alert-webhook:5001\/launchfleet'$/,
      (m) => `${m[1]}'http://127.0.0.1:${hookPort}/launchfleet'`,
    );
    assert.equal(am.changed, 1, 'the webhook URL is replaced');
    for (const line of differingLines(shippedAm, am.text))
      assert.match(line, /^\s+((group_wait|group_interval|repeat_interval): \S+|- url: .*)$/);
    await writeFile(join(work, 'alertmanager.yml'), am.text);

    const [promPort, amPort] = [await freePort(), await freePort()];
    await writeFile(
      join(work, 'prometheus.yml'),
      [
        'global: { scrape_interval: 1s, evaluation_interval: 1s }',
        'rule_files: [rules/*.yml]',
        `alerting: { alertmanagers: [ { static_configs: [ { targets: ['127.0.0.1:${amPort}'] } ] } ] }`,
        'scrape_configs:',
        '  - job_name: launchfleet-controller',
        '    scrape_interval: 1s',
        `    static_configs: [ { targets: ['127.0.0.1:${f.metricsPort}'] } ]`,
        '',
      ].join('\n'),
    );
    alertmanager = await startProc(
      'prometheus-alertmanager',
      [
        `--config.file=${join(work, 'alertmanager.yml')}`,
        `--storage.path=${join(work, 'am-data')}`,
        `--web.listen-address=127.0.0.1:${amPort}`,
        '--cluster.listen-address=',
      ],
      join(work, 'alertmanager.log'),
    );
    prometheus = await startProc(
      'prometheus',
      [
        `--config.file=${join(work, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(work, 'prom-data')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
      ],
      join(work, 'prometheus.log'),
    );
    const logs = async () =>
      `${await f.logs()}\n--- prometheus\n${(await readFile(join(work, 'prometheus.log'), 'utf8').catch(() => '')).slice(-3000)}` +
      `\n--- alertmanager\n${(await readFile(join(work, 'alertmanager.log'), 'utf8').catch(() => '')).slice(-3000)}`;

    // The controller's events, followed over gRPC as a user would.
    events = f.spawnCli(['events', '--follow', '--json', '--source', 'controller', '--since', '600']);
    assert.ok(events.stdout);
    createInterface({ input: events.stdout }).on('line', (line) => {
      try {
        grpcEvents.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not an event line
      }
    });

    const applied = await f.cli(await applyArgs(f, work));
    assert.equal(applied.code, 0, applied.stderr);

    try {
      await eventually(async () => {
        const r = await fetch(`http://127.0.0.1:${promPort}/-/ready`);
        assert.ok(r.ok, 'prometheus ready');
      }, 20_000);
      const firing = await until(
        () => {
          const x = received.find(
            (al) => al.labels['alertname'] === 'LaunchfleetJobCrashLooping' && al.status === 'firing',
          );
          assert.ok(x, 'the webhook got LaunchfleetJobCrashLooping');
          return x;
        },
        45_000,
        250,
      );
      assert.equal(firing.labels['node'], f.nodeId);
      assert.equal(firing.labels['domain'], 'system');
      assert.equal(firing.labels['label'], label);
      assert.equal(firing.labels['severity'], 'critical');
      assert.equal(firing.labels['instance'], undefined, 'the rule aggregates the scrape labels away');

      const ev = await until(
        () => {
          const x = grpcEvents.find(
            (e) => e['kind'] === 'alert-firing' && e['reason'] === 'LaunchfleetJobCrashLooping',
          );
          assert.ok(x, 'launchfleet events --follow showed the controller alert');
          return x;
        },
        15_000,
        250,
      );
      assert.equal(ev['source'], 'controller');
      assert.equal(ev['label'], label);
      assert.match(
        String(ev['detail']),
        new RegExp(
          `^id=LaunchfleetJobCrashLooping\\.${f.nodeId}\\.\\S+@\\d+ node=${f.nodeId} severity=critical: system/${label.replace(/\./g, '\\.')} `,
        ),
      );
      const metrics = await (await fetch(f.metricsUrl)).text();
      assert.match(metrics, /^launchfleet_alert_events_total\{alert="LaunchfleetJobCrashLooping"\} [1-9]/m);
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${await logs()}`, { cause: e });
    }
  });
});

/** Writes the plist and returns the `jobs apply` arguments. */
async function applyArgs(f: LocalFleet, work: string): Promise<string[]> {
  const file = join(work, `${label}.plist`);
  await writeFile(file, plist);
  return ['jobs', 'apply', file, '--nodes', f.nodeId];
}
