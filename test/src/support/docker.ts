/**
 * A Docker engine for the testcontainers suites, on a machine that reaches no image registry
 * (docs/engineering.md, "Machine facts"): use a running engine if there is one; otherwise, as root
 * with dockerd installed, start one with no bridge, no iptables and no IP forwarding, so every
 * container uses host networking on loopback and nothing leaves the machine. An engine this
 * module started is stopped again by `release()`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface DockerEngine {
  /** Stops the engine if this module started it. */
  release(): Promise<void>;
}

/** Why Docker is not available, or undefined when it is. */
export function dockerUnavailableReason(): string | undefined {
  if (spawnSync('docker', ['info'], { stdio: 'ignore', timeout: 10_000 }).status === 0) return undefined;
  if (spawnSync('which', ['dockerd'], { stdio: 'ignore' }).status !== 0)
    return 'no Docker engine: dockerd is not installed (apt-get install docker.io)';
  if (process.getuid?.() !== 0) return 'no Docker engine running, and starting dockerd needs root';
  return undefined;
}

/** Ensures an engine answers `docker info`; starts dockerd when needed (see the header). */
export async function ensureDocker(): Promise<DockerEngine> {
  process.env['TESTCONTAINERS_RYUK_DISABLED'] = 'true';
  // With --bridge=none there is no bridge network to find the host by; containers use the host's network.
  process.env['TESTCONTAINERS_HOST_OVERRIDE'] ??= '127.0.0.1';
  if (spawnSync('docker', ['info'], { stdio: 'ignore', timeout: 10_000 }).status === 0)
    return { release: () => Promise.resolve() };
  const dir = await mkdtemp(join(tmpdir(), 'lf-dockerd-'));
  const child = spawn(
    'dockerd',
    [
      '--bridge=none',
      '--iptables=false',
      '--ip-forward=false',
      '--ip-masq=false',
      `--exec-root=${join(dir, 'exec')}`,
      `--pidfile=${join(dir, 'dockerd.pid')}`,
    ],
    { detached: true, stdio: 'ignore' },
  );
  child.unref();
  const deadline = Date.now() + 30_000;
  while (spawnSync('docker', ['info'], { stdio: 'ignore', timeout: 5_000 }).status !== 0) {
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error('dockerd did not become ready within 30 s');
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    release: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timedOut = await Promise.race([
        exited.then(() => false),
        new Promise<boolean>((r) => setTimeout(() => r(true), 15_000)),
      ]);
      if (timedOut) {
        child.kill('SIGKILL');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
      }
      // dockerd bind-mounts namespace files under its exec root (exec/netns/default) and does not
      // always unmount them on the way out; a mounted file cannot be unlinked (EBUSY).
      await unmountUnder(dir);
      try {
        await rm(dir, { recursive: true, force: true });
      } catch (e) {
        console.warn(`# left ${dir} behind: ${(e as Error).message}`);
      }
    },
  };
}

/** Lazily unmounts every mount point at or below `dir`, deepest first. */
async function unmountUnder(dir: string): Promise<void> {
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  // Field 5 is the mount point, with spaces and the like written as octal escapes.
  const points = mountinfo
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => p !== undefined)
    .map((p) => p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((p) => p === dir || p.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const p of points) spawnSync('umount', ['-l', p], { stdio: 'ignore' });
}
