/**
 * `launchfleet-controller --config FILE [--alert-for NAME=DURATION ...]`: the composition root.
 * `launchfleet-controller nats-auth --keys DIR [--out FILE]` writes the NATS servers' auth include.
 * `launchfleet-controller keys <action> --keys DIR ...` rotates keys in the key store at rest.
 * `--alert-for` overrides an alert's hold-down (default: the Prometheus rule's `for:`), e.g.
 * `--alert-for LaunchfleetJobCrashLooping=1m`. Reads the config, starts the
 * controller (api/start-controller.ts) and stops it cleanly on SIGINT/SIGTERM.
 * Exit codes: 0 clean stop, 2 bad command line or config, 1 failed to start.
 */
import { parseArgs } from 'node:util';
import { InvalidArgumentError, messageOf } from '@launchfleet/shared';
import { loadControllerConfig } from './config/controller-config.ts';
import { startController } from './api/start-controller.ts';
import { defaultAlertSettings, withHoldDowns, type AlertSettings } from './alerts/core/alert-rules.ts';
import { natsAuthCommand, processIo } from './cli/nats-auth-command.ts';
import { keysCommand } from './cli/keys-command.ts';

const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);

// `launchfleet-controller nats-auth ...`: the NATS servers' auth include (cli/nats-auth-command.ts).
if (process.argv[2] === 'nats-auth') process.exit(await natsAuthCommand(process.argv.slice(3)));
// `launchfleet-controller keys ...`: key rotation on the key store at rest (cli/keys-command.ts).
if (process.argv[2] === 'keys') process.exit(await keysCommand(process.argv.slice(3), processIo));

let configFile: string | undefined;
let alertSettings: AlertSettings = defaultAlertSettings;
try {
  const { values } = parseArgs({
    options: {
      config: { type: 'string', short: 'c' },
      help: { type: 'boolean', short: 'h' },
      'alert-for': { type: 'string', multiple: true },
    },
  });
  const holdDowns = withHoldDowns(defaultAlertSettings, values['alert-for'] ?? []);
  if (!holdDowns.ok) throw new InvalidArgumentError(holdDowns.error);
  alertSettings = holdDowns.value;
  if (values.help) {
    process.stdout.write('usage: launchfleet-controller --config FILE [--alert-for NAME=DURATION ...]\n');
    process.exit(0);
  }
  configFile = values.config;
  if (!configFile) throw new InvalidArgumentError('--config FILE is required');
} catch (e) {
  process.stderr.write(
    `launchfleet-controller: ${messageOf(e)}\nusage: launchfleet-controller --config FILE [--alert-for NAME=DURATION ...]\n`,
  );
  process.exit(2);
}

try {
  const cfg = await loadControllerConfig(configFile);
  const c = await startController(cfg, { log, alerts: { settings: alertSettings } });
  log(
    `launchfleet-controller: gRPC on ${cfg.grpcListen.host}:${c.grpcPort} (${cfg.tls ? 'TLS' : 'plaintext, loopback'}), ` +
      `metrics ${c.metricsPort !== undefined ? `on ${cfg.metricsListen?.host}:${c.metricsPort}/metrics` : 'off'}, ` +
      `console ${c.consolePort !== undefined ? `on https://${cfg.consoleListen?.host}:${c.consolePort}/` : 'off'}, ` +
      `NATS ${cfg.natsUrls.join(',')}, ${c.aggregator.index.size} nodes known`,
  );
  let stopping = false;
  const stop = (sig: string) => {
    if (stopping) return;
    stopping = true;
    log(`launchfleet-controller: ${sig}, stopping`);
    c.stop().then(
      () => process.exit(0),
      (e: unknown) => {
        log(`launchfleet-controller: stop failed: ${messageOf(e)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
} catch (e) {
  log(`launchfleet-controller: ${messageOf(e)}`);
  process.exit(e instanceof InvalidArgumentError ? 2 : 1);
}
