/**
 * `launchfleet-controller nats-auth --keys DIR [--out FILE] [--create] [--resolver-dir DIR]`:
 * writes the NATS servers' operator-mode auth include (operator JWT, system account, the `full`
 * account resolver and the preloaded account JWTs: exactly `NatsIdentity.serverAuthConfig()`)
 * from the controller's key store, without a running controller. Deployments include it from
 * each server's config (deploy/nats/nats.conf, deploy/k8s/nats-values.yaml). The resolver keeps
 * account JWTs and revocations in `--resolver-dir` (default `/data/jwt`: beside JetStream's
 * store on the servers' persistent volume in compose and on Kubernetes).
 *
 * The include holds JWTs and public keys only, so FILE gets mode 0644 (the NATS servers may run
 * as another user); as a guard, nothing is written if the text holds one of the store's seeds.
 * Without --out the text goes to stdout (e.g. into `kubectl create secret`). Without --create a
 * missing or incomplete store is an error: a mistyped path must not mint a new operator whose
 * JWT no existing credential matches.
 *
 * Exit codes: 0 written, 2 bad command line or no key store at DIR, 1 anything else.
 */
import { mkdir, rename, rm, stat, writeFile, chmod } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { InternalError, InvalidArgumentError, messageOf } from '@launchfleet/shared';
import { KeyStore } from '../identity/key-store.ts';
import { NatsIdentity } from '../identity/nats-identity.ts';

/** One line of help, printed on --help and after a command-line error. */
export const natsAuthUsage =
  'usage: launchfleet-controller nats-auth --keys DIR [--out FILE] [--create] [--resolver-dir DIR]\n';

/** Where the deployments' servers keep account JWTs: on the volume JetStream's store is on. */
export const defaultResolverDir = '/data/jwt';

/** The files a complete key store has; KeyStore.open only reads a store that has them all. */
const storeFiles = ['nats/operator.nk', 'nats/system.nk', 'nats/account.nk', 'signing/active'] as const;

/** Where the command writes; the defaults are the process's streams. */
export interface NatsAuthIo {
  readonly stdout: (text: string) => Promise<void>;
  readonly stderr: (text: string) => Promise<void>;
}

export const processIo: NatsAuthIo = {
  stdout: (t) => writeStream(process.stdout, t),
  stderr: (t) => writeStream(process.stderr, t),
};

/** Runs the subcommand with its arguments (after `nats-auth`); resolves to the exit code. */
export async function natsAuthCommand(argv: readonly string[], io: NatsAuthIo = processIo): Promise<number> {
  let keys: string;
  let out: string | undefined;
  let create: boolean;
  let resolverDir: string;
  try {
    const { values } = parseArgs({
      args: [...argv],
      options: {
        keys: { type: 'string' },
        out: { type: 'string', short: 'o' },
        create: { type: 'boolean' },
        'resolver-dir': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
    if (values.help) {
      await io.stdout(natsAuthUsage);
      return 0;
    }
    if (!values.keys) throw new InvalidArgumentError('--keys DIR is required');
    keys = values.keys;
    out = values.out;
    create = values.create === true;
    resolverDir = values['resolver-dir'] ?? defaultResolverDir;
    if (!resolverDir.startsWith('/'))
      throw new InvalidArgumentError(
        '--resolver-dir must be an absolute path (the server resolves it from its working directory)',
      );
  } catch (e) {
    await io.stderr(`launchfleet-controller nats-auth: ${messageOf(e)}\n${natsAuthUsage}`);
    return 2;
  }
  try {
    if (!create) await requireCompleteStore(keys);
    const store = await KeyStore.open(keys);
    const text = `${await new NatsIdentity(store.natsKeys()).serverAuthConfig({ resolverDir })}\n`;
    const k = store.natsKeys();
    const decoder = new TextDecoder();
    for (const kp of [k.operator, k.system, k.account])
      if (text.includes(decoder.decode(kp.getSeed())))
        throw new InternalError('the server auth config holds a private seed; refusing to write it');
    if (out === undefined) await io.stdout(text);
    else {
      await writePublic(out, text);
      await io.stderr(`launchfleet-controller nats-auth: wrote ${out}\n`);
    }
    return 0;
  } catch (e) {
    await io.stderr(`launchfleet-controller nats-auth: ${messageOf(e)}\n`);
    return e instanceof InvalidArgumentError ? 2 : 1;
  }
}

/** Refuses a directory that lacks any of the store's key files (KeyStore.open would create them). */
export async function requireCompleteStore(
  dir: string,
  create = ' (pass --create to make one there)',
): Promise<void> {
  const missing: string[] = [];
  for (const f of storeFiles) {
    try {
      await stat(join(dir, f));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      missing.push(f);
    }
  }
  if (missing.length === storeFiles.length)
    throw new InvalidArgumentError(`${dir} is not a key store${create}`, 'keys');
  if (missing.length > 0)
    throw new InvalidArgumentError(
      `${dir} is an incomplete key store: ${missing.join(', ')} missing`,
      'keys',
    );
}

/** Writes FILE atomically (temporary file, then rename) with mode 0644 whatever the umask. */
async function writePublic(file: string, text: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    await writeFile(tmp, text, { mode: 0o644 });
    await chmod(tmp, 0o644);
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

function writeStream(s: NodeJS.WriteStream, text: string): Promise<void> {
  return new Promise((resolve, reject) => s.write(text, (e) => (e ? reject(e) : resolve())));
}
