/**
 * `launchfleet init-local DIR`: writes a throwaway single-machine configuration (used by
 * scripts/local-fleet.sh): the controller key store, a nats-server config in operator mode
 * (JetStream data under DIR/nats/data, account JWTs and revocations under DIR/nats/jwt), an API tokens file with one admin token, and the
 * controller's config. Existing keys are reused, so running it again keeps the same fleet.
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { messageOf } from '@launchfleet/shared';
import { KeyStore } from '../identity/key-store.ts';
import { NatsIdentity } from '../identity/nats-identity.ts';
import { addApiToken } from '../auth/api-tokens.ts';

export function registerInitLocalCommand(program: Command): void {
  program
    .command('init-local')
    .argument('<dir>', 'where to write everything (e.g. .launchfleet)')
    .description(
      'write a local single-machine fleet configuration (keys, nats-server, controller, admin token)',
    )
    .option('--nats-port <n>', 'NATS client port', '4222')
    .option('--nats-monitor-port <n>', 'NATS monitoring port', '8222')
    .option('--grpc-port <n>', 'controller gRPC port', '7400')
    .option('--metrics-port <n>', 'controller /metrics port', '9470')
    .option('--console-port <n>', 'web console HTTPS port (needs --tls-cert; 0 = off)', '7443')
    .option('--tls-cert <file>', 'controller TLS certificate (without it: plaintext gRPC on loopback)')
    .option('--tls-key <file>', 'controller TLS key')
    .option('--offline-after <seconds>', 'a node is offline after this long unheard', '30')
    .action(async (dir: string, o: Record<string, string | undefined>) => {
      try {
        const root = resolve(dir);
        await mkdir(join(root, 'nats', 'data'), { recursive: true, mode: 0o700 });
        await mkdir(join(root, 'controller'), { recursive: true, mode: 0o700 });
        const ks = await KeyStore.open(join(root, 'controller', 'keys'));
        const identity = new NatsIdentity(ks.natsKeys());
        const natsConf = [
          'server_name: "lf-local"',
          `listen: "127.0.0.1:${Number(o['natsPort'])}"`,
          `http: "127.0.0.1:${Number(o['natsMonitorPort'])}"`,
          `jetstream { store_dir: ${JSON.stringify(join(root, 'nats', 'data'))} }`,
          // Account JWTs and revocations on disk: a restarted server still refuses a revoked node.
          await identity.serverAuthConfig({ resolverDir: join(root, 'nats', 'jwt') }),
          '',
        ].join('\n');
        await writeFile(join(root, 'nats', 'nats.conf'), natsConf, { mode: 0o600 });
        const tokensFile = join(root, 'controller', 'api-tokens.json');
        const admin = await addApiToken(tokensFile, `admin-${Date.now().toString(36)}`, 'admin');
        await writeFile(join(root, 'admin-token'), `${admin}\n`, { mode: 0o600 });
        await chmod(join(root, 'admin-token'), 0o600);
        const tls = o['tlsCert'] && o['tlsKey'];
        const cfg = {
          natsUrls: [`nats://127.0.0.1:${Number(o['natsPort'])}`],
          keyStoreDir: 'keys',
          apiTokensFile: 'api-tokens.json',
          grpcListen: `127.0.0.1:${Number(o['grpcPort'])}`,
          ...(tls
            ? { tls: { certFile: resolve(o['tlsCert'] ?? ''), keyFile: resolve(o['tlsKey'] ?? '') } }
            : { insecure: true }),
          metricsListen: `127.0.0.1:${Number(o['metricsPort'])}`,
          ...(tls &&
            Number(o['consolePort']) > 0 && { consoleListen: `127.0.0.1:${Number(o['consolePort'])}` }),
          jetstreamReplicas: 1,
          offlineAfterSeconds: Number(o['offlineAfter']),
        };
        await writeFile(join(root, 'controller', 'controller.json'), `${JSON.stringify(cfg, null, 2)}\n`, {
          mode: 0o600,
        });
        process.stdout.write(
          `wrote ${join(root, 'nats', 'nats.conf')}, ${join(root, 'controller', 'controller.json')}, ${join(root, 'admin-token')}\n`,
        );
      } catch (e) {
        process.stderr.write(`launchfleet: ${messageOf(e)}\n`);
        process.exitCode = 1;
      }
    });
}
