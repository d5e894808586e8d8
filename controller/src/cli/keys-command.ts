/**
 * `launchfleet-controller keys <action> (--keys DIR | --config FILE) [ARG] [--activate]`: rotates
 * keys in the controller's key store at rest (the store every controller of the deployment reads
 * at start), and with `--config` (the controller's config: its key store and NATS servers) acts
 * on the running fleet at once (cli/keys-online.ts).
 *
 *   keys list                                 the keys held and which are active
 *   keys add-account-signing-key [--activate] a new signing key of the fleet account
 *   keys activate-account-signing-key PUB     new user JWTs (nodes, controllers) are signed by it
 *   keys retire-account-signing-key PUB       drop it: the servers refuse the JWTs it signed
 *   keys add-signing-key [--activate]         a new job-signing key
 *   keys activate-signing-key KEYID           new bundles are signed by it
 *   keys retire-signing-key KEYID             drop it from the trust store agents follow
 *   keys revoke-signing-key KEYID [--replacement new|KEYID] [--config FILE]
 *                                             a leaked key: revoked for good; with --config the
 *                                             trust store is published at once and every bundle
 *                                             it signed is re-signed with the active key
 *   keys resign-jobs --config FILE            re-sign the desired state with the active key
 *                                             (no job restarts: the same plist, a new version)
 *
 * Each change takes effect when the controllers restart (one after another): they push the
 * account JWT with the account's signing keys and publish the trust store with the held
 * job-signing keys at start. The procedure, with the steps in between (renewing every node's
 * credentials, re-signing the running jobs), is in controller/src/identity/README.md, "Key
 * rotation". Private keys are never printed. A directory that is not a complete key store is
 * refused (exit 2), as by `nats-auth`: a mistyped path must not create one.
 *
 * Exit codes: 0 done, 2 bad command line, no key store or a refused change, 1 anything else
 * (including a re-sign that left bundles on an old key: they are listed with the reason).
 */
import { parseArgs } from 'node:util';
import { InvalidArgumentError, messageOf } from '@launchfleet/shared';
import { type ControllerConfig, loadControllerConfig } from '../config/controller-config.ts';
import { KeyStore } from '../identity/key-store.ts';
import { type NatsAuthIo, requireCompleteStore } from './nats-auth-command.ts';
import { publishAndResign, renderOnline } from './keys-online.ts';

export const keysUsage = [
  'usage: launchfleet-controller keys <action> (--keys DIR | --config FILE) [ARG] [--activate]',
  '  list',
  '  add-account-signing-key [--activate] | activate-account-signing-key PUB | retire-account-signing-key PUB',
  '  add-signing-key [--activate] | activate-signing-key KEYID | retire-signing-key KEYID',
  '  revoke-signing-key KEYID [--replacement new|KEYID] [--config FILE]   (a leaked key)',
  '  resign-jobs --config FILE   re-sign the desired state with the active key (no job restarts)',
  '',
].join('\n');

const restart =
  'takes effect when the controllers restart (one after another); see controller/src/identity/README.md, "Key rotation"';

/** Runs `keys ...` (the arguments after `keys`); resolves to the exit code. */
export async function keysCommand(argv: readonly string[], io: NatsAuthIo): Promise<number> {
  let action: string;
  let arg: string | undefined;
  let dir: string;
  let activate: boolean;
  let replacement: string | undefined;
  let cfg: ControllerConfig | undefined;
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        keys: { type: 'string' },
        config: { type: 'string' },
        activate: { type: 'boolean' },
        replacement: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      await io.stdout(keysUsage);
      return 0;
    }
    const [a, b, ...rest] = positionals;
    if (!a) throw new InvalidArgumentError('an action is required');
    if (rest.length > 0) throw new InvalidArgumentError(`unexpected ${rest.join(' ')}`);
    if (values.config !== undefined) cfg = await loadControllerConfig(values.config);
    if (cfg && values.keys !== undefined && values.keys !== cfg.keyStoreDir)
      throw new InvalidArgumentError(
        `--keys ${values.keys} is not the key store of --config (${cfg.keyStoreDir})`,
      );
    const d = values.keys ?? cfg?.keyStoreDir;
    if (!d) throw new InvalidArgumentError('--keys DIR (or --config FILE) is required');
    if (a === 'resign-jobs' && !cfg)
      throw new InvalidArgumentError('resign-jobs needs --config FILE (the NATS servers)');
    if (values.replacement !== undefined && a !== 'revoke-signing-key')
      throw new InvalidArgumentError('--replacement goes with revoke-signing-key only');
    action = a;
    arg = b;
    dir = d;
    activate = values.activate === true;
    replacement = values.replacement;
  } catch (e) {
    await io.stderr(`launchfleet-controller keys: ${messageOf(e)}\n${keysUsage}`);
    return 2;
  }
  try {
    await requireCompleteStore(dir, '');
    const ks = await KeyStore.open(dir);
    const need = (what: string): string => {
      if (!arg) throw new InvalidArgumentError(`${action} needs the ${what}`);
      return arg;
    };
    let out: string;
    /** Bundles still signed by an old key after a re-sign: the command did not finish its job. */
    let left = 0;
    const online = async (activeKeyId: string): Promise<string> => {
      const r = await publishAndResign(cfg as ControllerConfig, ks);
      left = r.resign.left.length;
      return renderOnline(r, activeKeyId);
    };
    switch (action) {
      case 'list': {
        const as = ks.accountSigningKeys();
        const lines = [
          `fleet account ${ks.natsKeys().account.getPublicKey()}`,
          ...as.keys.map((k) => `  account signing key ${k}${k === as.active ? '  (active)' : ''}`),
          ...(as.active === ''
            ? ['  user JWTs are signed by the account key itself (no active signing key)']
            : []),
          ...ks
            .signingKeys()
            .map(
              (k) =>
                `job-signing key ${k.keyId}${k.keyId === ks.activeSigningKey().keyId ? '  (active)' : ''}`,
            ),
          ...ks.revokedSigningKeys().map((k) => `job-signing key ${k}  (revoked)`),
        ];
        out = `${lines.join('\n')}\n`;
        break;
      }
      case 'add-account-signing-key': {
        const pub = await ks.addAccountSigningKey(activate);
        const active = ks.accountSigningKeys().active === pub;
        out = `added account signing key ${pub}${active ? ' (active)' : ''}; ${restart}\n`;
        break;
      }
      case 'activate-account-signing-key':
        await ks.activateAccountSigningKey(need('public key'));
        out = `account signing key ${arg} is active; ${restart}\n`;
        break;
      case 'retire-account-signing-key':
        await ks.retireAccountSigningKey(need('public key'));
        out = `retired account signing key ${arg}: user JWTs it signed will be refused; ${restart}\n`;
        break;
      case 'add-signing-key': {
        const k = await ks.addSigningKey(activate);
        out = `added job-signing key ${k.keyId}${activate ? ' (active)' : ''}; ${restart}\n`;
        break;
      }
      case 'activate-signing-key':
        await ks.activate(need('key id'));
        out = `job-signing key ${arg} is active; ${restart}\n`;
        break;
      case 'retire-signing-key':
        await ks.retireSigningKey(need('key id'));
        out = `retired job-signing key ${arg}: the next trust store leaves it out; ${restart}\n`;
        break;
      case 'revoke-signing-key': {
        const before = ks.activeSigningKey().keyId;
        const r = await ks.revokeSigningKey(need('key id'), replacement);
        out = r.revoked
          ? `revoked job-signing key ${arg}: listed in ${dir}/signing/revoked, it signs no bundle again\n`
          : `job-signing key ${arg} was revoked already\n`;
        if (r.active !== before) out += `job-signing key ${r.active} is active\n`;
        if (cfg) {
          await io.stdout(out);
          out = await online(r.active);
          if (r.active !== before)
            out +=
              `restart the controllers (one after another) so they sign with ${r.active}: until then a job ` +
              `a running controller applies is signed by ${arg} and every agent refuses it\n`;
        } else
          out +=
            'not in force yet: run it again with --config FILE to publish the trust store and re-sign the ' +
            `jobs ${arg} signed, or restart the controllers (they publish it at start) and then run ` +
            '`launchfleet-controller keys resign-jobs --config FILE`; see controller/src/identity/README.md, ' +
            '"Revoking a leaked job-signing key"\n';
        break;
      }
      case 'resign-jobs':
        if (arg !== undefined) throw new InvalidArgumentError(`unexpected ${arg}`);
        out = await online(ks.activeSigningKey().keyId);
        break;
      default:
        throw new InvalidArgumentError(`unknown action ${action}`);
    }
    await io.stdout(out);
    return left > 0 ? 1 : 0;
  } catch (e) {
    await io.stderr(`launchfleet-controller keys: ${messageOf(e)}\n`);
    return e instanceof InvalidArgumentError ? 2 : 1;
  }
}
