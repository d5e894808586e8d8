/**
 * Pieces shared by the socket benchmarks: the responder job (test/bench/native/
 * socket-bench-responder.c, compiled into a temp dir per run, never kept), the anchor
 * (`systemd-socket-activate`, Debian's systemd package), a timed client, and a free port.
 * Every address is 127.0.0.1.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const HOST = '127.0.0.1';

/** test/bench/native/socket-bench-responder.c, from test/dist/bench/ or test/src/bench/. */
const responderSource: string = fileURLToPath(
  new URL('../../bench/native/socket-bench-responder.c', import.meta.url),
);

/** The compiled responder; `dispose` removes its directory. */
export interface Responder {
  readonly path: string;
  dispose(): void;
}

export function buildResponder(): Responder {
  const dir = mkdtempSync(join(tmpdir(), 'lf-bench-responder-'));
  const path = join(dir, 'socket-bench-responder');
  try {
    execFileSync('cc', ['-O2', '-Wall', '-Wextra', '-o', path, responderSource], { stdio: 'pipe' });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    const e = err as { stderr?: Buffer; message: string };
    throw new Error(`cc failed on ${responderSource}: ${e.stderr?.toString() ?? e.message}`, { cause: err });
  }
  return { path, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Where `systemd-socket-activate` is, or an Error value saying how to get it. */
export function findSocketActivate(): string | Error {
  for (const p of ['/usr/bin/systemd-socket-activate', '/bin/systemd-socket-activate'])
    if (existsSync(p)) return p;
  return new Error('systemd-socket-activate is missing: apt-get install systemd (scripts/bench.sh does)');
}

/** `systemd-socket-activate --version`'s first line. */
export function socketActivateVersion(bin: string): string {
  try {
    return execFileSync(bin, ['--version'], { encoding: 'utf8' }).split('\n')[0]?.trim() ?? '?';
  } catch {
    return '?';
  }
}

/** A running systemd-socket-activate, once it listens. */
export interface Activator {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly exited: Promise<void>;
  /** SIGTERM and wait (no-op once it exited). */
  stop(): Promise<void>;
}

/**
 * Starts `systemd-socket-activate <flags> -l 127.0.0.1:<port> <argv>` and resolves once it says
 * "Listening on" (it logs that on stderr after listen()). Its per-connection log lines are read
 * and dropped, as a journal would take them.
 */
export function startActivator(
  bin: string,
  flags: readonly string[],
  port: number,
  argv: readonly string[],
  timeoutMs = 10_000,
): Promise<Activator> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, [...flags, '-l', `${HOST}:${port}`, ...argv], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { PATH: '/usr/bin:/bin' },
    });
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    let err = '';
    let ready = false;
    const stop = async (): Promise<void> => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(t);
      }
    };
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`systemd-socket-activate did not listen within ${timeoutMs} ms: ${err}`));
    }, timeoutMs);
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (d: string) => {
      if (ready) return;
      err += d;
      if (err.includes('Listening on')) {
        ready = true;
        clearTimeout(timer);
        resolve({ child, pid: child.pid ?? -1, exited, stop });
      }
    });
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    void exited.then(() => {
      if (ready) return;
      clearTimeout(timer);
      reject(new Error(`systemd-socket-activate exited before listening: ${err.trim()}`));
    });
  });
}

/**
 * One timed connection, in ms from the client's connect(): the first byte and the peer's close,
 * and the split of the first byte by the responder's own CLOCK_MONOTONIC stamps:
 * `toStartMs` (connect -> the job's main(): the activator's reaction, its spawn and the exec),
 * `jobMs` (main() -> the connection in hand, about to write: the job's accept) and `deliverMs`
 * (the write -> the first byte seen by this client, including this event loop's delay).
 */
export interface Timed {
  readonly firstByteMs: number;
  readonly closeMs: number;
  readonly toStartMs: number;
  readonly jobMs: number;
  readonly deliverMs: number;
  readonly pid: number;
  readonly line: string;
  /** The raw CLOCK_MONOTONIC stamps (ns): connect(), the job's main(), its write, the first byte. */
  readonly at: {
    readonly connect: bigint;
    readonly start: bigint;
    readonly ready: bigint;
    readonly first: bigint;
  };
}

const LINE = /^pid=(\d+) start=(\d+) ready=(\d+)$/;
const ms = (from: bigint, to: bigint): number => Number(to - from) / 1e6;

/**
 * connect(), then time the first byte and the close. Rejects on error, on a timeout, or when the
 * peer closes without a responder's line (a connection nobody served is an error, not a sample).
 */
export function timedRequest(port: number, timeoutMs = 20_000): Promise<Timed> {
  return new Promise((resolve, reject) => {
    let first = 0n;
    let buf = '';
    const t0 = process.hrtime.bigint();
    const c = connect({ host: HOST, port });
    const timer = setTimeout(() => {
      c.destroy();
      reject(new Error(`no answer on ${HOST}:${port} within ${timeoutMs} ms (got ${JSON.stringify(buf)})`));
    }, timeoutMs);
    c.setEncoding('utf8');
    c.on('data', (d: string) => {
      if (buf === '') first = process.hrtime.bigint();
      buf += d;
    });
    c.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    c.on('close', () => {
      clearTimeout(timer);
      const closed = process.hrtime.bigint();
      const line = buf.trim();
      const m = LINE.exec(line);
      if (!m?.[1] || !m[2] || !m[3]) {
        reject(new Error(`unexpected answer on port ${port}: ${JSON.stringify(buf)}`));
        return;
      }
      const start = BigInt(m[2]);
      const ready = BigInt(m[3]);
      resolve({
        firstByteMs: ms(t0, first),
        closeMs: ms(t0, closed),
        toStartMs: ms(t0, start),
        jobMs: ms(start, ready),
        deliverMs: ms(ready, first),
        pid: Number(m[1]),
        line,
        at: { connect: t0, start, ready, first },
      });
    });
  });
}

/** A TCP port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, HOST, () => {
      const a = s.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/**
 * The settle time of the socket benchmarks (issue 19, tenth session): how long the client waits,
 * after the system under test said it is ready (ours: the agent reported the job idle and its
 * socket watched; the anchor: systemd-socket-activate said "Listening on"), before the measured
 * connect(); the same for both sides. The reference definition is 0: connect right after the
 * readiness check. A 10 ms settle was A/B'd against it on one build (test/bench/RESULTS.md, "Issue
 * 19, tenth session", 48 runs each) to take the check's own work (for ours: PrintService polled
 * every 2 ms) out of the measured window; it was not adopted: it adds the machine's wake-up from
 * idle to both sides (about 0.6 ms at p50), which moves every ratio toward 1 without ours getting
 * faster, and on the quiet runs it left the p99 ratio where it was.
 */
export const DEFAULT_SETTLE_MS = 0;

/** `--settle-ms=N` (0..1000, default DEFAULT_SETTLE_MS); an Error value when malformed. */
export function settleArg(values: ReadonlyMap<string, string>): number | Error {
  const v = values.get('settle-ms');
  if (v === undefined) return DEFAULT_SETTLE_MS;
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n) || n < 0 || n > 1000)
    return new Error(`--settle-ms must be an integer in 0..1000, got ${JSON.stringify(v)}`);
  return n;
}

/** Waits `ms` doing nothing (no timer at all for 0: the old definition exactly). */
export async function settle(ms: number): Promise<void> {
  if (ms > 0) await new Promise((r) => setTimeout(r, ms));
}

/** Polls `cond` (sync or async) every `everyMs` until true; an Error value after `ms`. */
export async function pollUntil(
  cond: () => boolean | Promise<boolean>,
  ms: number,
  what: string,
  everyMs = 2,
): Promise<Error | undefined> {
  const deadline = performance.now() + ms;
  while (!(await cond())) {
    if (performance.now() > deadline) return new Error(`timed out after ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return undefined;
}
