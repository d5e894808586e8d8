/**
 * A whole controller (gRPC API, aggregator, rollout runtime with short timings) over the
 * ControllerFleet's nats-server, with real agents (link-node.ts) enrolled through it, and the
 * `launchfleet` CLI run as a child process (stdout piped, as in a script).
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type RunningController, startController } from '@launchfleet/controller';
import { ControllerFleet } from './controller-fleet.ts';
import { type LinkNode, eventually, startLinkNode } from './link-node.ts';
import { repoRoot } from './paths.ts';

const run = promisify(execFile);
const cli = join(repoRoot, 'controller/bin/launchfleet.js');

export interface RolloutController {
  readonly fleet: ControllerFleet;
  readonly controller: RunningController;
  readonly nodes: LinkNode[];
  readonly nodeIds: string[];
  /** Runs `launchfleet <args>` against the controller with `token`; never rejects. */
  cli(token: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** The same with stdout on a pseudo-terminal (util-linux `script`), as a person sees it. */
  cliTty(token: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  close(): Promise<void>;
}

export async function startRolloutController(n: number): Promise<RolloutController> {
  const fleet = await ControllerFleet.start({ offlineAfterSeconds: 2 });
  const nodes: LinkNode[] = [];
  let controller: RunningController | undefined;
  const close = async (): Promise<void> => {
    await Promise.allSettled(nodes.map((x) => x.close()));
    await controller?.stop();
    await fleet.close();
  };
  try {
    const { cfg } = await fleet.config();
    controller = await startController(cfg, {
      name: 'rollout-ctl',
      log: () => undefined,
      rollout: { tickMs: 150, leaseMs: 2000 },
    });
    const c = controller;
    const enrollCreds = await fleet.identity.enrollCreds();
    for (let i = 0; i < n; i++) {
      const { token } = await c.app.enrollment.createToken({ ttlMs: 60_000 });
      nodes.push(await startLinkNode({ urls: [fleet.server.url], token, enrollCreds }));
    }
    const nodeIds: string[] = [];
    for (const x of nodes) {
      await eventually(() => x.link.status().connected, 20_000, 'agent connected');
      nodeIds.push(x.link.status().nodeId ?? '');
    }
    await eventually(
      () =>
        nodeIds.every((id) => c.aggregator.index.node(id)?.status && c.aggregator.index.node(id)?.registered),
      10_000,
      'nodes reporting',
    );
    return {
      fleet,
      controller: c,
      nodes,
      nodeIds,
      cli: async (token, ...args) => {
        try {
          const r = await run(
            process.execPath,
            [cli, ...args, '--server', `127.0.0.1:${c.grpcPort}`, '--insecure'],
            {
              env: { ...process.env, LAUNCHFLEET_TOKEN: token },
              timeout: 60_000,
            },
          );
          return { code: 0, stdout: r.stdout, stderr: r.stderr };
        } catch (e) {
          const x = e as { code?: number; stdout?: string; stderr?: string };
          return {
            code: typeof x.code === 'number' ? x.code : -1,
            stdout: x.stdout ?? '',
            stderr: x.stderr ?? '',
          };
        }
      },
      cliTty: async (token, ...args) => {
        const quote = (a: string): string => `'${a.replace(/'/g, `'\\''`)}'`;
        const line = [process.execPath, cli, ...args, '--server', `127.0.0.1:${c.grpcPort}`, '--insecure']
          .map(quote)
          .join(' ');
        try {
          const r = await run('script', ['-qec', line, '/dev/null'], {
            env: { ...process.env, LAUNCHFLEET_TOKEN: token },
            timeout: 60_000,
          });
          return { code: 0, stdout: r.stdout, stderr: r.stderr };
        } catch (e) {
          const x = e as { code?: number; stdout?: string; stderr?: string };
          return {
            code: typeof x.code === 'number' ? x.code : -1,
            stdout: x.stdout ?? '',
            stderr: x.stderr ?? '',
          };
        }
      },
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}
