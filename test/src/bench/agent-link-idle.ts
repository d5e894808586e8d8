/**
 * Benchmark: the idle CPU of the real agent process (`launchfleet-agent --config`) with N (1,000)
 * loaded KeepAlive jobs *and its fleet link connected* (enrolled with a control plane: nats-server
 * and the enrolment service, in this process). supervisor-jobs-1000 measures the agent
 * standalone, which runs no reporter; this one measures what the link costs an idle node: the
 * reporter's scan, heartbeats, status puts.
 *
 *   node --conditions=launchfleet-testing test/dist/bench/agent-link-idle.js [--jobs=N]
 *        [--idle-seconds=S] [--settle-seconds=S] [--before-bin=PATH] [--standalone=yes|no]
 *
 * `--before-bin` is another build's node-agent/bin/launchfleet-agent.js (an older checkout, built):
 * both agents run at once, each with its N jobs, and are measured over the same window, so the
 * machine's noise hits them alike. `--standalone=yes` adds this build's agent with no link (the
 * jobs' cost alone). Only the agent processes are measured (/proc/<pid>/stat utime+stime), not
 * their jobs, not nats-server.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { intArg, machineInfo, parseArgs } from './bench-output.ts';
import { round } from './bench-stats.ts';
import { sample } from './proc-stats.ts';
import { agentBin, startRealAgent, type RealAgent } from './real-agent.ts';
import { labels, sleeperJob } from './supervisor-harness.ts';
import { type ControlPlaneHarness, startControlPlane } from '../support/control-plane.ts';

const { quick, values } = parseArgs(process.argv.slice(2));
const jobs = intArg(values, 'jobs', quick ? 100 : 1000);
const idleSeconds = intArg(values, 'idle-seconds', quick ? 10 : 60);
const settleSeconds = intArg(values, 'settle-seconds', quick ? 5 : 15);
const beforeBin = values.get('before-bin');
const standalone = values.get('standalone') === 'yes';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls the agent's metrics until its link says connected. */
async function connected(a: RealAgent, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const text = await fetch(a.metricsUrl)
      .then((r) => r.text())
      .catch(() => '');
    if (/^launchfleet_agent_nats_connected 1$/m.test(text)) return;
    if (Date.now() > until) throw new Error(`agent ${a.pid} not connected after ${timeoutMs} ms`);
    await sleep(500);
  }
}

async function main(): Promise<void> {
  let cp: ControlPlaneHarness | undefined;
  const agents: { name: string; agent: RealAgent }[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'lf-bench-link-idle-'));
  try {
    cp = await startControlPlane();
    const variants: { name: string; bin: string; linked: boolean }[] = [
      { name: 'after', bin: agentBin, linked: true },
      ...(beforeBin !== undefined ? [{ name: 'before', bin: beforeBin, linked: true }] : []),
      ...(standalone ? [{ name: 'standalone', bin: agentBin, linked: false }] : []),
    ];
    for (const v of variants) {
      let extraConfig: Record<string, unknown> = {};
      if (v.linked) {
        const { token } = await cp.enrollment.createToken({ ttlMs: 600_000 });
        const tokenFile = join(dir, `${v.name}.token`);
        writeFileSync(tokenFile, `${token}\n${new TextDecoder().decode(cp.enrollCreds)}`, { mode: 0o600 });
        extraConfig = { controller: { natsUrls: cp.urls, bootstrapTokenFile: tokenFile } };
      }
      const agent = await startRealAgent(labels(v.name, jobs).map(sleeperJob), 'sleep', {
        bin: v.bin,
        extraConfig,
      });
      agents.push({ name: v.name, agent });
      if (v.linked) await connected(agent, 120_000);
    }
    await sleep(settleSeconds * 1000);
    const first = agents.map((a) => sample(a.agent.pid));
    const t0 = performance.now();
    await sleep(idleSeconds * 1000);
    const wallSec = (performance.now() - t0) / 1000;
    const metrics: Record<string, number> = {};
    agents.forEach((a, k) => {
      const last = sample(a.agent.pid);
      const cpu = (last?.cpuSec ?? Number.NaN) - (first[k]?.cpuSec ?? Number.NaN);
      metrics[`${a.name}.cpuPct`] = round((cpu / wallSec) * 100, 3);
    });
    const result = {
      bench: 'agent-link-idle',
      quick,
      at: new Date().toISOString(),
      machine: machineInfo(),
      params: { jobs, idleSeconds, settleSeconds, ...(beforeBin !== undefined && { beforeBin }) },
      metrics,
    };
    process.stdout.write(`BENCH_RESULT ${JSON.stringify(result)}\n`);
    for (const [k, v] of Object.entries(metrics)) process.stdout.write(`${k}\t${v} % of a core\n`);
  } finally {
    for (const a of agents.reverse()) await a.agent.stop().catch(() => undefined);
    await cp?.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
