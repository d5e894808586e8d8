// Shared pieces of the sockets-*.test.ts suites: a real supervisor domain (real spawner, file
// system, users, clock, the native socket port), plists written to a temp dir, fixture jobs,
// and small TCP/UDP clients. Every address is loopback.
import { createSocket } from 'node:dgram';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PlistValue } from '@launchfleet/shared/job';
import { buildXmlPlist } from '@launchfleet/shared';
import { candidatePort } from '../support/nats-server.ts';
import { systemClock, systemScheduler } from '@launchfleet/shared/clock';
import {
  RealFileSystem,
  createProcessSpawner,
  NativeSocketPort,
  RealUserDb,
  CalendarScheduler,
  fixedOffset,
  machineConfig,
  Domain,
  modelPlistLoader,
  OverrideStore,
  type LaunchdFailure,
  type JobStatus,
  SocketManager,
} from '@launchfleet/node-agent';

/** The compiled check-in module, for fixture jobs written in Node. */
export const checkinModule = fileURLToPath(import.meta.resolve('@launchfleet/node-agent/checkin'));

export interface Supervisor {
  readonly dir: string;
  readonly domain: Domain;
  readonly sockets: SocketManager;
  readonly logs: string[];
  /** Writes `<label>.plist` and bootstraps it; the failure if refused. */
  load(label: string, job: Record<string, PlistValue>): Promise<LaunchdFailure | undefined>;
  status(label: string): JobStatus;
  /** Boots out every job (waiting for their exits) and removes the temp dir. */
  stop(): Promise<void>;
}

export async function startSupervisor(opts: { maxInetdInstances?: number } = {}): Promise<Supervisor> {
  const dir = mkdtempSync(join(tmpdir(), 'lf-sockets-'));
  chmodSync(dir, 0o755);
  const fs = new RealFileSystem();
  const logs: string[] = [];
  const log = (level: string, label: string, message: string): void => {
    logs.push(`${level} ${label}: ${message}`);
  };
  const overrides = new OverrideStore(fs, join(dir, 'overrides.json'));
  await overrides.load();
  const sockets = new SocketManager({
    port: new NativeSocketPort(),
    log,
    ...(opts.maxInetdInstances !== undefined ? { maxInetdInstances: opts.maxInetdInstances } : {}),
  });
  const config = machineConfig('modern');
  const domain = new Domain({
    kind: 'system',
    uid: 0,
    ports: {
      // The agent's default spawner (posix_spawn; LAUNCHFLEET_SPAWNER=node for child_process).
      spawner: createProcessSpawner(),
      fs,
      users: new RealUserDb(),
      clock: systemClock,
      scheduler: systemScheduler,
    },
    config,
    calendar: new CalendarScheduler(systemClock, systemScheduler, fixedOffset(0), {
      weekdayIgnoresMonth: true,
    }),
    log,
    agentUid: process.getuid?.() ?? 0,
    loader: modelPlistLoader(),
    overrides,
    sockets,
  });
  return {
    dir,
    domain,
    sockets,
    logs,
    async load(label, job) {
      const path = join(dir, `${label}.plist`);
      writeFileSync(path, buildXmlPlist({ Label: label, ...job }), { mode: 0o644 });
      const r = await domain.bootstrapPaths([path], { requesterUid: process.getuid?.() ?? 0 });
      return r.failures[0];
    },
    status(label) {
      const r = domain.print(label);
      if (!r.ok) throw new Error(`${label} is not loaded: ${r.error.message}`);
      return r.value;
    },
    async stop() {
      await domain.teardown();
      sockets.closeAll();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A TCP port free on both 127.0.0.1 and ::1 right now. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await new Promise<number>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(0));
      s.listen({ port: candidatePort(), host: '::', ipv6Only: false }, () => {
        const a = s.address();
        s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
      });
    });
    const udpFree = await new Promise<boolean>((resolve) => {
      const u = createSocket('udp4');
      u.once('error', () => resolve(false));
      u.bind(port, '127.0.0.1', () => u.close(() => resolve(true)));
    });
    if (port > 0 && udpFree) return port;
  }
  throw new Error('no free port');
}

/** Connects, sends `send` (if any), and resolves with everything read until the peer closes. */
export function request(host: string, port: number, send = '', timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = connect({ host, port });
    let out = '';
    const timer = setTimeout(() => {
      c.destroy();
      reject(new Error(`no answer from ${host}:${port} within ${timeoutMs} ms (got ${JSON.stringify(out)})`));
    }, timeoutMs);
    c.setEncoding('utf8');
    c.on('connect', () => {
      if (send !== '') c.write(send);
    });
    c.on('data', (d: string) => (out += d));
    c.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    c.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

/** A connection held open: the first line it receives, then `close()`. */
export function openClient(opts: { host: string; port: number } | { path: string }): {
  socket: Socket;
  firstLine: Promise<string>;
  all: () => string;
} {
  const socket = connect(opts);
  let buf = '';
  socket.setEncoding('utf8');
  const firstLine = new Promise<string>((resolve, reject) => {
    socket.on('data', (d: string) => {
      buf += d;
      const i = buf.indexOf('\n');
      if (i >= 0) resolve(buf.slice(0, i));
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`closed before a line (got ${JSON.stringify(buf)})`)));
  });
  firstLine.catch(() => undefined);
  return { socket, firstLine, all: () => buf };
}

/** Resolves with the reply to one datagram. */
export function udpRequest(host: string, port: number, msg: string, timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const u = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    const timer = setTimeout(() => {
      u.close();
      reject(new Error(`no UDP reply from ${host}:${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    u.on('message', (m) => {
      clearTimeout(timer);
      u.close();
      resolve(m.toString('utf8'));
    });
    u.on('error', (e) => {
      clearTimeout(timer);
      u.close();
      reject(e);
    });
    u.send(msg, port, host);
  });
}

/** Polls `cond` every 20 ms until true, or fails after `ms`. */
export async function waitUntil(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Is a TCP listener on `port` in /proc/net/tcp (v4) or tcp6? */
export function listening(port: number, v6: boolean): boolean {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  const text = readFileSync(v6 ? '/proc/net/tcp6' : '/proc/net/tcp', 'utf8');
  return text
    .split('\n')
    .slice(1)
    .some((l) => {
      const f = l.trim().split(/\s+/);
      return f[1]?.endsWith(`:${hex}`) === true && f[3] === '0A';
    });
}

/** Writes an executable fixture file. */
export function fixture(dir: string, name: string, text: string): string {
  mkdirSync(dir, { recursive: true });
  const p = join(dir, name);
  writeFileSync(p, text, { mode: 0o755 });
  return p;
}

/**
 * A Node job that checks in with launchActivateSocket(group), serves every fd with one line
 * (`pid=<pid> fds=<fds> names=<LISTEN_FDNAMES> family=<local address> uid=<uid>`), and exits
 * after `idleMs` without a connection (0 = never), with process.exit: server.close would unlink a
 * unix socket path the agent owns. On SIGTERM it stops accepting and exits once its accepted
 * connections are answered (fine for TCP; unix-socket jobs are not SIGTERMed in these tests).
 */
export function nodeServerFixture(dir: string, name = 'serve.mjs'): string {
  return fixture(
    dir,
    name,
    `import net from 'node:net';
import { launchActivateSocket } from ${JSON.stringify(checkinModule)};
const group = process.argv[2] ?? 'Listeners';
const idleMs = Number(process.argv[3] ?? 0);
const fds = launchActivateSocket(group);
let open = 0;
let timer;
const arm = () => {
  clearTimeout(timer);
  if (idleMs > 0 && open === 0) timer = setTimeout(() => process.exit(0), idleMs);
};
const servers = [];
// On SIGTERM: stop accepting (closing only this process's copy of the listener), finish the
// connections already accepted, then exit; whatever is still queued waits for the next instance.
process.on('SIGTERM', () => {
  for (const s of servers) s.close();
  const done = () => (open === 0 ? process.exit(0) : setTimeout(done, 10));
  done();
});
for (const fd of fds)
  servers.push(net.createServer((c) => {
    open++;
    clearTimeout(timer);
    c.on('close', () => { open--; arm(); });
    c.on('error', () => undefined);
    c.end('pid=' + process.pid + ' fds=' + fds.join(',') + ' names=' + process.env.LISTEN_FDNAMES + ' family=' + c.localAddress + ' uid=' + process.getuid() + '\\n');
  }).listen({ fd }));
arm();
`,
  );
}

/** The node binary, for ProgramArguments. */
export const nodeBin = process.execPath;

/** Is a process alive? */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
