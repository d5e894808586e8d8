/**
 * `node test/dist/bench/console-bench.js [--agents N] [--requests R] [--loads L] [--mix SPEC]
 *    [--start-rate N] [--enrol-minutes M]`
 * (scripts/bench-console.sh): the web console at fleet scale. A real nats-server, the
 * controller in its own process with the console on (TLS), N simulated agents (test/src/sim,
 * default 10,000, 3 % crash-looping) all running one applied job; then, with the fleet steady:
 *
 * - server time: R sequential requests each of the overview, the job's page (first page and a
 *   filtered deep page) and the node list, over one keep-alive TLS connection with a session;
 *   both the time the client waits and the server's own `Server-Timing: render`.
 * - browser: L navigations each in Debian's chromium (support/browser.ts) to the overview and the
 *   job page, "complete" = the load event (every asset loaded, times localised).
 * - anchors in the same run: a static asset over the same connection (the HTTPS floor), the
 *   gRPC JobHealth call for the same job (the API's own cost), and the sign-in page in the browser.
 *
 * Prints one CONSOLE-BENCH {json} line and tables. Results: test/bench/CONSOLE-RESULTS.md.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { connect, credsAuthenticator } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { buckets } from '@launchfleet/shared/messages';
import { TokenStore } from '@launchfleet/controller/enrollment';
import { RawApi, makeTlsFiles } from '../support/controller-fleet.ts';
import { ConsoleClient } from '../support/console-client.ts';
import { openBrowser } from '../support/browser.ts';
import { freePort } from '../support/nats-server.ts';
import { startBenchControlPlane } from './fleet-controller-proc.ts';
import { FleetObserver } from './fleet-observer.ts';
import { parseMix } from '../sim/sim-profiles.ts';
import { SimProc } from './fleet-sim-proc.ts';

const { values: v } = parseArgs({
  options: {
    agents: { type: 'string', default: '10000' },
    requests: { type: 'string', default: '100' },
    loads: { type: 'string', default: '20' },
    mix: { type: 'string', default: 'healthy=97,crash=3' },
    'start-rate': { type: 'string', default: '40' },
    'enrol-minutes': { type: 'string', default: '20' },
  },
});
const agents = Number(v.agents);
const mix = parseMix(v.mix ?? '');
const requests = Number(v.requests);
const loads = Number(v.loads);
const label = 'com.bench.console';
const print = (l: string) => void process.stdout.write(`${l}\n`);

interface Quantiles {
  readonly n: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

/** Nearest-rank quantiles (the bound is a p95). */
function quantiles(samples: readonly number[]): Quantiles {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? Number.NaN;
  return { n: s.length, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: s[s.length - 1] ?? Number.NaN };
}
const fmt = (q: Quantiles) =>
  `${q.p50.toFixed(1)} / ${q.p95.toFixed(1)} / ${q.p99.toFixed(1)} / ${q.max.toFixed(1)}`;

async function waitUntil(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

const tlsDir = await mkdtemp(join(tmpdir(), 'lf-console-bench-tls-'));
const tls = makeTlsFiles(tlsDir);
const consolePort = await freePort();
const cp = await startBenchControlPlane({
  controllerConfig: {
    tls: { certFile: tls.cert, keyFile: tls.key },
    consoleListen: `127.0.0.1:${consolePort}`,
  },
});
const sims: SimProc[] = [];
let observer: FleetObserver | undefined;
const api = new RawApi(cp.grpcPort, tls);
const out: Record<string, unknown> = { agents, mix: v.mix, requests, loads };
try {
  print(`# console bench: ${agents} simulated agents (${v.mix}), controller pid ${cp.controller.pid ?? 0}`);
  // Enrolment tokens: one through the API (it hands out the enroll creds), the rest into lf_tokens directly.
  const first = await api.call('CreateEnrollmentToken', { ttlSeconds: 7200, maxUses: 1 }, cp.tokens.admin);
  const tokens = [String(first['token'])];
  const nc = await connect({
    servers: [cp.server.url],
    authenticator: credsAuthenticator(new Uint8Array(await cp.identity.controllerCreds())),
  });
  const store = new TokenStore(await new Kvm(nc).open(buckets.tokens));
  while (tokens.length < agents)
    tokens.push(
      ...(await Promise.all(
        Array.from(
          { length: Math.min(64, agents - tokens.length) },
          async () => (await store.create(Date.now(), 7200_000, 1)).token,
        ),
      )),
    );
  await nc.close();
  const tokenFile = join(cp.dir, 'tokens.txt');
  await writeFile(tokenFile, `${tokens.join('\n')}\n${String(first['enrollCredentials'])}`, { mode: 0o600 });
  observer = await FleetObserver.start(
    [cp.server.url],
    new Uint8Array(Buffer.from(await cp.identity.controllerCreds())),
  );
  const per = 5000;
  const procs = Math.ceil(agents / per);
  for (let p = 0; p < procs; p++) {
    const n = Math.min(per, agents - p * per);
    sims.push(
      new SimProc([
        ...['--agents', String(n), '--nats', cp.server.url, '--token-file', tokenFile],
        ...['--token-offset', String(p * per), '--mix', v.mix ?? ''],
        ...['--start-rate', String(Math.max(1, Math.round(Number(v['start-rate']) / procs)))],
      ]),
    );
  }
  await Promise.all(sims.map((s) => s.ready));
  const t0 = Date.now();
  const obs = observer;
  let lastPrint = Date.now();
  // On a loaded machine the last few agents can take long: measure with what reports by then.
  const enrolMs = Number(v['enrol-minutes']) * 60_000;
  await waitUntil(
    () => {
      if (Date.now() - lastPrint > 30_000) {
        lastPrint = Date.now();
        const secs = ((Date.now() - t0) / 1000).toFixed(0);
        print(`#   ${secs} s: ${obs.enrolled.size} enrolled, ${obs.firstStatus.size} reporting`);
      }
      return obs.enrolled.size >= agents && obs.firstStatus.size >= agents;
    },
    enrolMs,
    'enrolment',
  ).catch(() => print(`# enrolment INCOMPLETE after ${String(v['enrol-minutes'])} min`));
  out['enrolled'] = obs.enrolled.size;
  out['reporting'] = obs.firstStatus.size;
  const took = ((Date.now() - t0) / 1000).toFixed(0);
  print(`# ${obs.firstStatus.size} of ${agents} agents enrolled and reporting after ${took} s`);
  const plist = `<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict><key>Label</key><string>${label}</string>
<key>ProgramArguments</key><array><string>/bin/sleep</string><string>600</string></array>
<key>KeepAlive</key><true/></dict></plist>`;
  await api.call(
    'ApplyJob',
    { plist, domain: 'system', target: { kind: 'all', all: true } },
    cp.tokens.admin,
  );
  const reporting = async () =>
    Number((await api.call('JobHealth', { label }, cp.tokens.viewer))['nodesReporting'] ?? 0);
  await waitUntil(
    async () => (await reporting()) >= obs.firstStatus.size * 0.99,
    5 * 60_000,
    'the job reported by 99 % of the reporting nodes',
  );
  // The crash-looping share must show as crash-looping before anything is measured: the
  // overview's cost grows with the problems, and a node is called crash-looping only after a
  // few throttled runs (about a minute). Before this wait a run could measure a fleet with none.
  const crashShare = mix.ok
    ? mix.mix['crash-looping'] / Object.values(mix.mix).reduce((a, b) => a + b, 0)
    : 0;
  const wantCrashing = Math.floor(obs.firstStatus.size * crashShare * 0.9);
  const crashing = async () =>
    Number((await api.call('JobHealth', { label }, cp.tokens.viewer))['crashLooping'] ?? 0);
  await waitUntil(async () => (await crashing()) >= wantCrashing, 5 * 60_000, 'crash-looping nodes').catch(
    () => print(`# fewer than ${wantCrashing} nodes crash-looping after 5 min: measuring anyway`),
  );
  const health = await api.call('JobHealth', { label }, cp.tokens.viewer);
  out['job'] = {
    reporting: health['nodesReporting'],
    crashLooping: health['crashLooping'],
    states: health['states'],
  };
  print(
    `# ${String(health['nodesReporting'])} nodes report ${label}; ${String(health['crashLooping'])} crash-looping`,
  );
  // Let the apply's burst of status updates settle.
  await new Promise((r) => setTimeout(r, 10_000));

  // ---- server time ----------------------------------------------------------------------------
  const base = `https://127.0.0.1:${consolePort}`;
  const k = new ConsoleClient(base, await readFile(tls.caCert));
  if ((await k.signIn(cp.tokens.viewer)).status !== 303) throw new Error('sign-in failed');
  const measure = async (path: string, n: number) => {
    const wall: number[] = [];
    const render: number[] = [];
    let bytes = 0;
    for (let i = 0; i < 5; i++) await k.get(path, { 'x-lf-live': '1' });
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      // Live refreshes are what a watching browser sends most; full loads differ only by an audit entry.
      const r = await k.get(path, { 'x-lf-live': '1' });
      wall.push(performance.now() - t);
      if (r.status !== 200) throw new Error(`${path}: ${r.status}`);
      bytes = r.body.length;
      const m = /render;dur=([\d.]+)/.exec(String(r.headers['server-timing'] ?? ''));
      if (m?.[1]) render.push(Number(m[1]));
    }
    return { wall: quantiles(wall), render: render.length ? quantiles(render) : undefined, bytes };
  };
  const grpcHealth = async (n: number) => {
    const wall: number[] = [];
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      await api.call('JobHealth', { label }, cp.tokens.viewer);
      wall.push(performance.now() - t);
    }
    return { wall: quantiles(wall) };
  };
  const server: Record<string, { wall: Quantiles; render?: Quantiles | undefined; bytes?: number }> = {
    'anchor: static asset /assets/console.css': await measure('/assets/console.css', requests),
    'anchor: gRPC JobHealth (same job)': await grpcHealth(requests),
    'overview /': await measure('/', requests),
    [`job page /jobs/${label}`]: await measure(`/jobs/${label}`, requests),
    'job page, filtered, page 20 of 200-row pages': await measure(
      `/jobs/${label}?state=running&size=200&page=20`,
      requests,
    ),
    'node list, page 100': await measure('/nodes?page=100', requests),
  };
  out['server'] = server;
  print('\n| server (ms, p50 / p95 / p99 / max) | client waits | server render | bytes |\n|---|---|---|---|');
  for (const [name, r] of Object.entries(server))
    print(`| ${name} | ${fmt(r.wall)} | ${r.render ? fmt(r.render) : '-'} | ${r.bytes ?? '-'} |`);

  // ---- browser --------------------------------------------------------------------------------
  const b = await openBrowser(tls.cert);
  try {
    const { page } = b;
    await page.goto(`${base}/login`);
    await page.fill('#token', cp.tokens.viewer);
    await Promise.all([page.waitForURL(`${base}/`), page.click('button[type=submit]')]);
    const nav = async (path: string, n: number, selector: string) => {
      const complete: number[] = [];
      for (let i = 0; i < n + 2; i++) {
        await page.goto(`${base}${path}`, { waitUntil: 'load' });
        await page.waitForSelector(selector, { state: 'attached' });
        // Navigation Timing of the page just loaded (a browser expression, evaluated in the page).
        const t = Number(
          await page.evaluate(
            '(() => { const e = performance.getEntriesByType("navigation")[0]; return e ? e.loadEventEnd - e.startTime : NaN; })()',
          ),
        );
        if (i >= 2) complete.push(t);
      }
      return quantiles(complete);
    };
    const browser = {
      'anchor: sign-in page /login': await nav('/login', loads, '#token'),
      'overview /': await nav('/', loads, '#live'),
      [`job page /jobs/${label}`]: await nav(`/jobs/${label}`, loads, '#job-nodes'),
    };
    out['browser'] = browser;
    print('\n| browser, navigation start to load event (ms) | p50 / p95 / p99 / max |\n|---|---|');
    for (const [name, q] of Object.entries(browser)) print(`| ${name} | ${fmt(q)} |`);
    const shots = process.env['LF_CONSOLE_BENCH_SHOTS'];
    if (shots) {
      await mkdir(shots, { recursive: true });
      await page.goto(`${base}/`);
      await page.screenshot({ path: join(shots, 'overview-10000.png'), fullPage: true });
      await page.goto(`${base}/jobs/${label}`);
      await page.screenshot({ path: join(shots, 'job-10000.png') });
    }
  } finally {
    await b.close();
  }
  print(`\nCONSOLE-BENCH ${JSON.stringify(out)}`);
} finally {
  api.close();
  await Promise.allSettled(sims.map((s) => s.stop()));
  await observer?.close();
  await cp.close();
  await rm(tlsDir, { recursive: true, force: true });
}
