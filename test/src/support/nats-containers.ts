/**
 * nats-server in Docker containers through testcontainers, for the cluster suites that must
 * show the product on containers: the image is built in the test setup FROM scratch out of this
 * machine's nats-server binary (deploy/docker/build-nats-image.sh stages it; no registry is
 * reachable), and each server runs with host networking on loopback, with its generated config
 * and store directory bind-mounted at the same path, so ports, paths and the harness's
 * readiness checks are the same as for a local process.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GenericContainer, type StartedTestContainer } from 'testcontainers';
import type { ServerLauncher, ServerProcess } from './nats-server.ts';
import { repoRoot } from './paths.ts';

/** Builds the scratch nats-server image from this machine's binary; returns its tag. */
export async function buildNatsImage(tag = 'launchfleet/nats:test'): Promise<string> {
  const ctx = await mkdtemp(join(tmpdir(), 'lf-nats-image-'));
  try {
    const staged = spawnSync(
      'bash',
      [join(repoRoot, 'deploy/docker/build-nats-image.sh'), '--stage-only', ctx],
      {
        encoding: 'utf8',
      },
    );
    if (staged.status !== 0) throw new Error(`staging the nats image failed: ${staged.stderr}`);
    await GenericContainer.fromDockerfile(ctx).build(tag, { deleteOnExit: false });
    return tag;
  } finally {
    await rm(ctx, { recursive: true, force: true });
  }
}

/** A launcher that runs each server of the harness in a container of `image`. */
export function containerLauncher(image: string): ServerLauncher {
  return async ({ confPath, dir, name, logLines }): Promise<ServerProcess> => {
    const container: StartedTestContainer = await new GenericContainer(image)
      .withNetworkMode('host')
      .withBindMounts([{ source: dir, target: dir, mode: 'rw' }])
      // Relative paths in the config (the account resolver's directory) are per server.
      .withWorkingDir(dir)
      .withEntrypoint(['/nats-server'])
      .withCommand(['-c', confPath])
      .withName(`lf-test-${name}-${Date.now()}`)
      .withLogConsumer((stream) => {
        stream.on('data', (chunk: Buffer | string) => {
          for (const l of chunk.toString().split('\n')) {
            if (l === '') continue;
            logLines.push(l);
            if (logLines.length > 200) logLines.shift();
          }
        });
      })
      .start();
    let exited = false;
    return {
      pid: 0,
      exited: () => exited,
      kill: async (signal) => {
        if (exited) return;
        exited = true;
        // SIGKILL: stop with no grace; SIGTERM: the engine's usual stop with a short grace.
        await container.stop({ timeout: signal === 'SIGKILL' ? 0 : 5_000, remove: true });
      },
    };
  };
}
