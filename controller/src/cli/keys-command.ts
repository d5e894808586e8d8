/**
 * `launchfleet-controller keys <action> --keys DIR [ARG] [--activate]`: rotates keys in the
 * controller's key store at rest (the store every controller of the deployment reads at start).
 *
 *   keys list                                 the keys held and which are active
 *   keys add-account-signing-key [--activate] a new signing key of the fleet account
 *   keys activate-account-signing-key PUB     new user JWTs (nodes, controllers) are signed by it
 *   keys retire-account-signing-key PUB       drop it: the servers refuse the JWTs it signed
 *   keys add-signing-key [--activate]         a new job-signing key
 *   keys activate-signing-key KEYID           new bundles are signed by it
 *   keys retire-signing-key KEYID             drop it from the trust store agents follow
 *
 * Each change takes effect when the controllers restart (one after another): they push the
 * account JWT with the account's signing keys and publish the trust store with the held
 * job-signing keys at start. The procedure, with the steps in between (renewing every node's
 * credentials, re-signing the running jobs), is in controller/src/identity/README.md, "Key
 * rotation". Private keys are never printed. A directory that is not a complete key store is
 * refused (exit 2), as by `nats-auth`: a mistyped path must not create one.
 *
 * Exit codes: 0 done, 2 bad command line, no key store or a refused change, 1 anything else.
 */
import { parseArgs } from 'node:util';
import { InvalidArgumentError, messageOf } from '@launchfleet/shared';
import { KeyStore } from '../identity/key-store.ts';
import { type NatsAuthIo, requireCompleteStore } from './nats-auth-command.ts';

export const keysUsage = [
  'usage: launchfleet-controller keys <action> --keys DIR [ARG] [--activate]',
  '  list',
  '  add-account-signing-key [--activate] | activate-account-signing-key PUB | retire-account-signing-key PUB',
  '  add-signing-key [--activate] | activate-signing-key KEYID | retire-signing-key KEYID',
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
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        keys: { type: 'string' },
        activate: { type: 'boolean' },
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
    if (!values.keys) throw new InvalidArgumentError('--keys DIR is required');
    action = a;
    arg = b;
    dir = values.keys;
    activate = values.activate === true;
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
      default:
        throw new InvalidArgumentError(`unknown action ${action}`);
    }
    await io.stdout(out);
    return 0;
  } catch (e) {
    await io.stderr(`launchfleet-controller keys: ${messageOf(e)}\n`);
    return e instanceof InvalidArgumentError ? 2 : 1;
  }
}
