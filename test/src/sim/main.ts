/**
 * The fleet simulator's command line:
 *
 *   node test/dist/sim/main.js --agents 1000 --nats nats://127.0.0.1:4222 --token-file tokens.txt
 *       [--token-offset 0] [--mix healthy=90,crash=5,slow=5] [--dir DIR] [--host-prefix sim]
 *       [--first-index 0] [--start-concurrency 100] [--start-rate 0] [--fast] [--report-sec 5]
 *       [--crash-run-ms 300] [--slow-start-ms 3000] [--churn-offline-ms 20000] [--churn-online-ms 40000]
 *       [--anchor-clients N --anchor-creds-file FILE] [--js-ed25519]
 *       [--connect-gate N [--connect-gate-lag-ms MS]] [--heartbeat-s S]
 *
 * The token file holds bootstrap tokens (`lfbt_...`, one per line; agent i uses line
 * token-offset + i) followed by the enroll user's creds block, as `launchfleet tokens create`
 * prints them. `--fast` uses test timings (short heartbeats/backoff) instead of production's.
 * `--anchor-clients` adds plain nats.js clients with default reconnect options (the D.2 anchor).
 * By default the nkeys library in this process signs with Node's native Ed25519
 * (native-ed25519.ts explains why); `--js-ed25519` keeps tweetnacl's pure-JS signing.
 * `--connect-gate N` admits at most N NATS connects in flight, and none while the loop lags more
 * than --connect-gate-lag-ms (default 250): connect-gate.ts explains why; off by default.
 * `--heartbeat-s S` sets the agents' heartbeat (and so their link's ping) period instead of the
 * timings' own (production 10 s): a large fleet's operator may choose a longer one.
 *
 * Started by hand it prints a JSON stats line every --report-sec and stops on SIGINT/SIGTERM.
 * Forked by the benchmark (an IPC channel exists) it answers SimCommand messages instead.
 * Exit codes: 0 stopped, 2 bad arguments, 1 failed.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { FleetLinkSettings } from '@launchfleet/node-agent/link';
import { AnchorClients } from './anchor-clients.ts';
import { installConnectGate, type ConnectGateStats } from './connect-gate.ts';
import { FleetSim } from './fleet-sim.ts';
import { useNativeEd25519 } from './native-ed25519.ts';
import { allHealthy, parseMix, type ProfileMix } from './sim-profiles.ts';
import type { SimCommand, SimReply } from './sim-protocol.ts';

/** Test timings (as test/src/support/link-node.ts): fast beats, short backoff. */
const fastSettings: FleetLinkSettings = {
  heartbeatMs: 1000,
  statusMinIntervalMs: 200,
  scanMs: 500,
  resyncMs: 5000,
  backoff: { baseMs: 200, capMs: 2000 },
  connectTimeoutMs: 5000,
};

const usage =
  'usage: main.js --agents N --nats URL[,URL] --token-file FILE [--token-offset K] [--mix SPEC] [--dir DIR] ' +
  '[--host-prefix P] [--first-index I] [--start-concurrency C] [--start-rate N] [--fast] [--report-sec S] ' +
  '[--crash-run-ms MS] [--slow-start-ms MS] [--churn-offline-ms MS] [--churn-online-ms MS] ' +
  '[--anchor-clients N --anchor-creds-file FILE] [--js-ed25519] [--connect-gate N [--connect-gate-lag-ms MS]] ' +
  '[--heartbeat-s S]';

function fail(message: string): never {
  process.stderr.write(`fleet-sim: ${message}\n${usage}\n`);
  process.exit(2);
}

const { values: v } = (() => {
  try {
    return parseArgs({
      options: {
        agents: { type: 'string', default: '0' },
        nats: { type: 'string' },
        'token-file': { type: 'string' },
        'token-offset': { type: 'string', default: '0' },
        mix: { type: 'string' },
        dir: { type: 'string' },
        'host-prefix': { type: 'string', default: 'sim' },
        'first-index': { type: 'string' },
        'start-concurrency': { type: 'string', default: '100' },
        'start-rate': { type: 'string', default: '0' },
        fast: { type: 'boolean', default: false },
        'report-sec': { type: 'string', default: '5' },
        'crash-run-ms': { type: 'string', default: '300' },
        'slow-start-ms': { type: 'string', default: '3000' },
        'churn-offline-ms': { type: 'string', default: '20000' },
        'churn-online-ms': { type: 'string', default: '40000' },
        'anchor-clients': { type: 'string', default: '0' },
        'anchor-creds-file': { type: 'string' },
        'js-ed25519': { type: 'boolean', default: false },
        'connect-gate': { type: 'string', default: '0' },
        'connect-gate-lag-ms': { type: 'string', default: '250' },
        'heartbeat-s': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    return fail(e instanceof Error ? e.message : String(e));
  }
})();
if (v.help) {
  process.stdout.write(`${usage}\n`);
  process.exit(0);
}
const int = (name: string, text: string | undefined, min = 0): number => {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min) fail(`--${name} must be an integer >= ${min}`);
  return n;
};
const agents = int('agents', v.agents);
const anchors = int('anchor-clients', v['anchor-clients']);
if (agents === 0 && anchors === 0) fail('nothing to run: give --agents and/or --anchor-clients');
if (!v.nats) fail('--nats is required');
const urls = v.nats.split(',').filter((u) => u !== '');
if (!urls.every((u) => /^(nats|tls):\/\//.test(u))) fail('--nats takes nats:// URLs');
let mix: ProfileMix = allHealthy;
if (v.mix !== undefined) {
  const m = parseMix(v.mix);
  if (!m.ok) fail(`--mix: ${m.error}`);
  mix = m.mix;
}

if (!v['js-ed25519'] && !useNativeEd25519())
  process.stderr.write('fleet-sim: native Ed25519 differs from tweetnacl here; keeping tweetnacl\n');

/**
 * Set once the parent is gone (its IPC channel closed, or the read end of our stdout): nothing is
 * sent any more and the simulator stops (stop(0) below), instead of dying on EPIPE.
 */
let parentGone = false;
const send = (m: SimReply): void => {
  if (parentGone) return;
  if (process.send) {
    if (process.connected) process.send(m);
  } else process.stdout.write(`${JSON.stringify(m)}\n`);
};

let sim: FleetSim | undefined;
let gateStats: (() => ConnectGateStats) | undefined;
let anchor: AnchorClients | undefined;
let ownDir: string | undefined;
let stopping = false;

async function stop(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    // Bounded: a stuck agent must not keep the process (and its CPU profile) from ending.
    const bound = new Promise<void>((r) => setTimeout(r, 20_000).unref());
    await Promise.race([
      Promise.all([sim?.stop().catch(() => undefined), anchor?.stop().catch(() => undefined)]),
      bound,
    ]);
    if (ownDir) await rm(ownDir, { recursive: true, force: true }).catch(() => undefined);
    send({ type: 'stopped' });
  }
  // Let the IPC message go out before exiting.
  setTimeout(() => process.exit(code), 50);
  return new Promise<never>(() => undefined);
}

try {
  if (anchors > 0) {
    if (!v['anchor-creds-file']) fail('--anchor-clients needs --anchor-creds-file');
    const creds = new Uint8Array(await readFile(v['anchor-creds-file']));
    anchor = new AnchorClients();
    await anchor.start(anchors, urls, creds);
    send({ type: 'anchor-connected', clients: anchor.conns.length });
  }
  if (agents > 0) {
    if (!v['token-file']) fail('--token-file is required with --agents');
    const gateSize = int('connect-gate', v['connect-gate']);
    if (gateSize > 0)
      gateStats = installConnectGate({
        maxInFlight: gateSize,
        maxLagMs: int('connect-gate-lag-ms', v['connect-gate-lag-ms'], 1),
      });
    const text = await readFile(v['token-file'], 'utf8');
    const tokens = text
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.startsWith('lfbt_'));
    const credsAt = text.indexOf('-----BEGIN NATS USER JWT-----');
    if (credsAt < 0) fail(`${v['token-file']} holds no enroll creds block`);
    const offset = int('token-offset', v['token-offset']);
    const mine = tokens.slice(offset, offset + agents);
    if (mine.length < agents)
      fail(
        `${v['token-file']} has ${tokens.length} tokens; agents ${offset}..${offset + agents - 1} need more`,
      );
    const dir = v.dir ?? (ownDir = await mkdtemp(join(tmpdir(), 'lf-sim-')));
    sim = new FleetSim({
      agents,
      natsUrls: urls,
      tokens: mine,
      enrollCreds: text.slice(credsAt),
      dir,
      mix,
      hostPrefix: v['host-prefix'],
      firstIndex: v['first-index'] !== undefined ? int('first-index', v['first-index']) : offset,
      ...((v.fast || v['heartbeat-s'] !== undefined) && {
        settings: {
          ...(v.fast ? fastSettings : {}),
          ...(v['heartbeat-s'] !== undefined && {
            heartbeatMs: int('heartbeat-s', v['heartbeat-s'], 1) * 1000,
          }),
        },
      }),
      timings: {
        crashRunMs: int('crash-run-ms', v['crash-run-ms']),
        slowStartMs: int('slow-start-ms', v['slow-start-ms']),
      },
      churn: {
        offlineMs: int('churn-offline-ms', v['churn-offline-ms'], 1),
        onlineMs: int('churn-online-ms', v['churn-online-ms'], 1),
      },
      startConcurrency: int('start-concurrency', v['start-concurrency'], 1),
      startRatePerSec: int('start-rate', v['start-rate']),
    });
    const ms = await sim.start();
    send({ type: 'started', agents, ms: Math.round(ms) });
  }
} catch (e) {
  send({ type: 'error', message: e instanceof Error ? e.message : String(e) });
  await stop(1);
}

/** One CPU profile window at a time, through the inspector (the whole-life `--cpu-prof` mixes
 * enrolment into what an apply costs). */
let profiler: Session | undefined;
async function profile(m: Extract<SimCommand, { type: 'profile' }>): Promise<string | undefined> {
  if (m.action === 'start') {
    profiler ??= new Session();
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.start');
    return undefined;
  }
  if (!profiler) throw new Error('no profile was started');
  const { profile: p } = await profiler.post('Profiler.stop');
  profiler.disconnect();
  profiler = undefined;
  await writeFile(m.file, JSON.stringify(p));
  return m.file;
}

process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));
/** The parent went away: say so once on stderr and stop cleanly (the agents leave, exit code 0). */
const onParentGone = (how: string): void => {
  if (parentGone) return;
  parentGone = true;
  // Already stopping (asked to by the parent, which may then close the channel): nothing to say.
  if (stopping) return;
  try {
    process.stderr.write(`fleet-sim: ${how}; the parent is gone, stopping\n`);
  } catch {
    // stderr may be the same closed pipe
  }
  void stop(0);
};
// Without a listener an EPIPE on stdout (the soak that reads our stats lines died) is an uncaught
// 'error' event and kills the simulator with a stack trace, leaving its agents' connections to time out.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED') onParentGone(`stdout closed (${e.code})`);
  else throw e;
});
if (process.send) {
  process.on('disconnect', () => onParentGone('IPC channel closed'));
  // process.send on a channel closing under it reports the error here (not as a throw).
  process.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE' || e.code === 'ERR_IPC_CHANNEL_CLOSED') onParentGone(`IPC ${e.code}`);
    else throw e;
  });
  process.on('message', (m: SimCommand) => {
    switch (m.type) {
      case 'stats':
        if (sim) send({ ...sim.stats(m.label), ...(gateStats && { gate: gateStats() }) });
        else send({ ...emptyStats(), connected: anchor?.conns.filter((c) => !c.isClosed()).length ?? 0 });
        return;
      case 'agents':
        send({ type: 'agents', rows: sim?.rows(m.label) ?? [] });
        return;
      case 'profile':
        void profile(m).then(
          (file) => send({ type: 'profiled', ...(file !== undefined && { file }) }),
          (e: unknown) => send({ type: 'profiled', error: e instanceof Error ? e.message : String(e) }),
        );
        return;
      case 'stop':
        void stop(0);
        return;
      default: {
        const never: never = m;
        send({ type: 'error', message: `unknown command ${JSON.stringify(never)}` });
      }
    }
  });
} else {
  const every = int('report-sec', v['report-sec'], 1) * 1000;
  setInterval(() => {
    if (sim) send({ ...sim.stats(), ...(gateStats && { gate: gateStats() }) });
  }, every);
}

function emptyStats(): Extract<SimReply, { type: 'stats' }> {
  const mem = process.memoryUsage();
  const cpu = process.cpuUsage();
  return {
    type: 'stats',
    pid: process.pid,
    agents: 0,
    started: 0,
    enrolled: 0,
    connected: 0,
    offline: 0,
    running: {},
    spawns: 0,
    exits: 0,
    rssBytes: mem.rss,
    heapUsedBytes: mem.heapUsed,
    cpuUserMs: cpu.user / 1000,
    cpuSystemMs: cpu.system / 1000,
    loopDelayP99Ms: 0,
    waiting: {},
    problems: [],
    problemCount: 0,
  };
}
