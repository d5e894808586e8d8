/**
 * The controller's key store: a directory (mode 0700) of private keys, each in its own file
 * with mode 0600, created once and loaded once.
 *
 * ```
 * <dir>/nats/operator.nk     NATS operator seed (SO…)
 * <dir>/nats/system.nk       system account seed (SA…)
 * <dir>/nats/account.nk      fleet account seed (SA…): the account's identity; signs user JWTs
 *                            until the account has signing keys
 * <dir>/nats/account-signing/<A…>.nk   the account's signing keys (SA…), listed in its JWT
 * <dir>/nats/account-signing/active    the public key that signs new user JWTs
 * <dir>/signing/<keyId>.pem  Ed25519 job-bundle signing keys (PKCS#8)
 * <dir>/signing/active       the key id new bundles are signed with
 * <dir>/signing/revoked      key ids revoked for good (one a line); a revoked key's .pem is
 *                            only ever used to sign the trust store that revokes it
 * ```
 *
 * Rotation (controller/src/identity/README.md, "Key rotation"): keys are added, activated and
 * retired on the store at rest (`launchfleet-controller keys ...`); controllers read the store
 * at start. A store without `account-signing/` (every store before signing keys) signs user
 * JWTs with the account key itself.
 *
 * Private material never leaves this object except as signatures and JWTs: key pairs are
 * kept in private fields (so `util.inspect`/`JSON.stringify` of the store print nothing
 * secret), nothing here logs, and a key file readable by group or others is refused. A store
 * whose keys all exist is only read, so it can be mounted read-only (files 0600 or 0400).
 */
import { chmod, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PermissionDeniedError, InvalidArgumentError } from '@launchfleet/shared';
import {
  type SigningKey,
  generateSigningKey,
  keyIdPattern,
  signingKeyFromPem,
  signingKeyToPem,
} from '@launchfleet/shared/signing';
import { type NativeKeyPair, createNativePair, nativeFromSeed } from '@launchfleet/shared/native-nkeys';

/**
 * The NATS keys the controller signs with: native Ed25519 pairs (one native call per
 * signature), usable wherever `@nats-io/jwt` wants an nkeys `KeyPair`.
 */
export interface NatsKeys {
  readonly operator: NativeKeyPair;
  readonly system: NativeKeyPair;
  readonly account: NativeKeyPair;
  /** The account's signing keys (public keys, sorted), listed in the account JWT. */
  readonly accountSigningKeys?: readonly string[];
  /** What signs new user JWTs: the active signing key; absent: the account key itself. */
  readonly userSigner?: NativeKeyPair;
}

export class KeyStore {
  readonly dir: string;
  readonly #nats: NatsKeys;
  readonly #signing: Map<string, SigningKey>;
  #active: string;
  readonly #revoked: Set<string>;
  readonly #revokedKeys: Map<string, SigningKey>;
  readonly #accountSigning: Map<string, NativeKeyPair>;
  #accountActive: string;

  private constructor(
    dir: string,
    nats: NatsKeys,
    signing: Map<string, SigningKey>,
    active: string,
    revoked: Set<string>,
    revokedKeys: Map<string, SigningKey>,
    accountSigning: Map<string, NativeKeyPair>,
    accountActive: string,
  ) {
    this.dir = dir;
    this.#nats = nats;
    this.#signing = signing;
    this.#active = active;
    this.#revoked = revoked;
    this.#revokedKeys = revokedKeys;
    this.#accountSigning = accountSigning;
    this.#accountActive = accountActive;
  }

  /** Opens the store, creating any missing key (first start). */
  static async open(dir: string): Promise<KeyStore> {
    await mkdir(join(dir, 'nats'), { recursive: true, mode: 0o700 });
    await mkdir(join(dir, 'signing'), { recursive: true, mode: 0o700 });
    // Only tighten a directory that needs it: a store prepared with private modes (dir 0700,
    // files 0600 or 0400) may then be a read-only mount, where chmod fails even as a no-op.
    if (((await stat(dir)).mode & 0o077) !== 0) await chmod(dir, 0o700);
    const nats: NatsKeys = {
      operator: await loadOrCreateNkey(join(dir, 'nats', 'operator.nk'), 'operator'),
      system: await loadOrCreateNkey(join(dir, 'nats', 'system.nk'), 'account'),
      account: await loadOrCreateNkey(join(dir, 'nats', 'account.nk'), 'account'),
    };
    const signing = new Map<string, SigningKey>();
    for (const f of (await readdir(join(dir, 'signing'))).sort()) {
      if (!f.endsWith('.pem')) continue;
      const path = join(dir, 'signing', f);
      const k = signingKeyFromPem(await readSecret(path));
      if (!k.ok) throw new InvalidArgumentError(`${path}: ${k.error}`, 'keyStore');
      if (`${k.value.keyId}.pem` !== f)
        throw new InvalidArgumentError(`${path} is named after another key`, 'keyStore');
      signing.set(k.value.keyId, k.value);
    }
    const revoked = new Set<string>();
    const revokedText = await readSecret(join(dir, 'signing', 'revoked')).catch(
      (e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return '';
        throw e;
      },
    );
    for (const line of revokedText.split('\n')) {
      const id = line.trim();
      if (id === '') continue;
      if (!keyIdPattern.test(id))
        throw new InvalidArgumentError(
          `${join(dir, 'signing', 'revoked')}: ${id.slice(0, 80)} is no key id`,
          'keyStore',
        );
      revoked.add(id);
    }
    // A revoked key never signs a bundle again. Its file is kept (while present) for one use
    // only: signing the trust store that revokes it, when it is the only key agents trust yet.
    const revokedKeys = new Map<string, SigningKey>();
    for (const id of revoked) {
      const k = signing.get(id);
      if (k) revokedKeys.set(id, k);
      signing.delete(id);
    }
    let active = '';
    try {
      active = (await readFile(join(dir, 'signing', 'active'), 'utf8')).trim();
    } catch {
      // first start
    }
    const accountSigning = new Map<string, NativeKeyPair>();
    const asDir = join(dir, 'nats', 'account-signing');
    const asFiles = await readdir(asDir).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return [] as string[];
      throw e;
    });
    for (const f of asFiles.sort()) {
      if (!f.endsWith('.nk')) continue;
      const kp = await loadOrCreateNkey(join(asDir, f), 'account', false);
      if (`${kp.getPublicKey()}.nk` !== f)
        throw new InvalidArgumentError(`${join(asDir, f)} is named after another key`, 'keyStore');
      accountSigning.set(kp.getPublicKey(), kp);
    }
    // No `active` (or an empty one): the account key itself still signs user JWTs.
    const accountActive =
      accountSigning.size > 0 ? (await readSecret(join(asDir, 'active')).catch(() => '')).trim() : '';
    if (accountActive !== '' && !accountSigning.has(accountActive))
      throw new InvalidArgumentError(`active account signing key ${accountActive} missing`, 'keyStore');
    const store = new KeyStore(
      dir,
      nats,
      signing,
      active,
      revoked,
      revokedKeys,
      accountSigning,
      accountActive,
    );
    if (revoked.has(active))
      throw new InvalidArgumentError(
        `the active signing key ${active} is revoked: activate another (keys activate-signing-key KEYID)`,
        'keyStore',
      );
    if (signing.size === 0) await store.addSigningKey(true);
    else if (!signing.has(active))
      throw new InvalidArgumentError(`active signing key ${active} missing`, 'keyStore');
    return store;
  }

  /** The NATS operator/account keys (for the identity module only). */
  natsKeys(): NatsKeys {
    const signer = this.#accountSigning.get(this.#accountActive);
    return {
      ...this.#nats,
      accountSigningKeys: [...this.#accountSigning.keys()].sort(),
      ...(signer && { userSigner: signer }),
    };
  }

  /** The account's signing keys (public), and which one signs new user JWTs ('' : the account key). */
  accountSigningKeys(): { readonly keys: readonly string[]; readonly active: string } {
    return { keys: [...this.#accountSigning.keys()].sort(), active: this.#accountActive };
  }

  /** Generates an account signing key (rotation step 1); `activate` makes it sign user JWTs from now on. */
  async addAccountSigningKey(activate = false): Promise<string> {
    const kp = createNativePair('account');
    const dir = join(this.dir, 'nats', 'account-signing');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeSecret(join(dir, `${kp.getPublicKey()}.nk`), `${new TextDecoder().decode(kp.getSeed())}\n`);
    this.#accountSigning.set(kp.getPublicKey(), kp);
    if (activate) await this.activateAccountSigningKey(kp.getPublicKey());
    return kp.getPublicKey();
  }

  /** Makes a held account signing key the one that signs new user JWTs (rotation step 2). */
  async activateAccountSigningKey(publicKey: string): Promise<void> {
    if (!this.#accountSigning.has(publicKey))
      throw new InvalidArgumentError(`no account signing key ${publicKey}`, 'publicKey');
    await writeSecret(join(this.dir, 'nats', 'account-signing', 'active'), `${publicKey}\n`);
    this.#accountActive = publicKey;
  }

  /**
   * Removes an account signing key (rotation step 4): the next account JWT no longer lists it,
   * and the servers refuse every user JWT it signed. The active key cannot be retired.
   */
  async retireAccountSigningKey(publicKey: string): Promise<void> {
    if (!this.#accountSigning.has(publicKey))
      throw new InvalidArgumentError(`no account signing key ${publicKey}`, 'publicKey');
    if (publicKey === this.#accountActive)
      throw new InvalidArgumentError(
        `${publicKey} is the active account signing key: activate another first`,
        'publicKey',
      );
    await rm(join(this.dir, 'nats', 'account-signing', `${publicKey}.nk`));
    this.#accountSigning.delete(publicKey);
  }

  /**
   * Removes a job-signing key (rotation's last step): the next trust store leaves it out, and
   * agents stop trusting it. The active key cannot be retired.
   */
  async retireSigningKey(keyId: string): Promise<void> {
    if (!keyIdPattern.test(keyId) || !this.#signing.has(keyId))
      throw new InvalidArgumentError(`no signing key ${keyId}`, 'keyId');
    if (keyId === this.#active)
      throw new InvalidArgumentError(`${keyId} is the active signing key: activate another first`, 'keyId');
    await rm(join(this.dir, 'signing', `${keyId}.pem`));
    this.#signing.delete(keyId);
  }

  /**
   * Revokes a job-signing key for good (a leaked key): its id goes into `signing/revoked`, it
   * never signs a bundle again, and every trust store published from now on lists it as revoked,
   * so agents refuse any bundle it signed, old or new. Its file stays (see
   * revokedSigningKeysHeld); delete it by hand once every controller has published a store. The active key can only be revoked together with
   * a replacement: `replacement` names a held key to activate, or 'new' for a fresh one.
   * Revoking a key revoked before changes nothing (returns false), so a revocation whose publish
   * step failed can simply be run again.
   */
  async revokeSigningKey(keyId: string, replacement?: string): Promise<{ revoked: boolean; active: string }> {
    if (!keyIdPattern.test(keyId))
      throw new InvalidArgumentError(`${keyId.slice(0, 80)} is no key id`, 'keyId');
    if (this.#revoked.has(keyId)) return { revoked: false, active: this.#active };
    if (!this.#signing.has(keyId))
      throw new InvalidArgumentError(
        `no signing key ${keyId} (held: ${[...this.#signing.keys()].join(', ')})`,
        'keyId',
      );
    if (replacement !== undefined && replacement !== 'new') {
      if (replacement === keyId) throw new InvalidArgumentError('a key cannot replace itself', 'replacement');
      if (!keyIdPattern.test(replacement) || !this.#signing.has(replacement))
        throw new InvalidArgumentError(
          `no signing key ${replacement.slice(0, 80)} to activate`,
          'replacement',
        );
    }
    if (keyId === this.#active) {
      if (replacement === undefined)
        throw new InvalidArgumentError(
          `${keyId} is the active signing key${this.#signing.size === 1 ? ' and the only one' : ''}: ` +
            'name its replacement (--replacement new, or --replacement KEYID of a held key)',
          'keyId',
        );
    }
    if (replacement === 'new') await this.addSigningKey(true);
    else if (replacement !== undefined) await this.activate(replacement);
    const list = [...this.#revoked, keyId].sort();
    await writeSecret(join(this.dir, 'signing', 'revoked'), `${list.join('\n')}\n`);
    this.#revoked.add(keyId);
    const k = this.#signing.get(keyId);
    if (k) this.#revokedKeys.set(keyId, k);
    this.#signing.delete(keyId);
    return { revoked: true, active: this.#active };
  }

  /**
   * Revoked keys whose file is still held, for the trust publisher only: when the revoked key is
   * the only one the agents' current trust store trusts, the store that revokes it can only be
   * signed by it (agents accept a store signed by a key they trust). Never used for bundles.
   */
  revokedSigningKeysHeld(): readonly SigningKey[] {
    return [...this.#revokedKeys.values()];
  }

  /** Job-signing key ids revoked for good (sorted); every trust store lists them as revoked. */
  revokedSigningKeys(): readonly string[] {
    return [...this.#revoked].sort();
  }

  /** The key new bundles are signed with. */
  activeSigningKey(): SigningKey {
    const k = this.#signing.get(this.#active);
    if (!k) throw new InvalidArgumentError('no active signing key', 'keyStore');
    return k;
  }

  /** Every signing key held (public parts go into the trust store). */
  signingKeys(): readonly SigningKey[] {
    return [...this.#signing.values()];
  }

  /** Looks a signing key up by id. */
  signingKey(keyId: string): SigningKey | undefined {
    return this.#signing.get(keyId);
  }

  /** Generates and stores a new signing key (rotation step 1); `activate` makes it sign from now on. */
  async addSigningKey(activate = false): Promise<SigningKey> {
    const k = generateSigningKey();
    await writeSecret(join(this.dir, 'signing', `${k.keyId}.pem`), signingKeyToPem(k));
    this.#signing.set(k.keyId, k);
    if (activate) await this.activate(k.keyId);
    return k;
  }

  /** Makes a held key the one new bundles are signed with (rotation step 2). */
  async activate(keyId: string): Promise<void> {
    if (!keyIdPattern.test(keyId) || !this.#signing.has(keyId))
      throw new InvalidArgumentError(`no signing key ${keyId}`, 'keyId');
    await writeSecret(join(this.dir, 'signing', 'active'), `${keyId}\n`);
    this.#active = keyId;
  }

  /** The directory and the public key ids only. */
  toString(): string {
    return `KeyStore(${this.dir}, signing keys: ${[...this.#signing.keys()].join(', ')})`;
  }

  /** What `util.inspect` prints: same as `toString`. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }

  toJSON(): { dir: string; signingKeys: string[] } {
    return { dir: this.dir, signingKeys: [...this.#signing.keys()] };
  }
}

async function loadOrCreateNkey(
  path: string,
  role: 'operator' | 'account',
  create = true,
): Promise<NativeKeyPair> {
  let seed: string | undefined;
  try {
    seed = (await readSecret(path)).trim();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  if (seed === undefined) {
    if (!create) throw new InvalidArgumentError(`${path} is missing`, 'keyStore');
    const kp = createNativePair(role);
    await writeSecret(path, `${new TextDecoder().decode(kp.getSeed())}\n`);
    return kp;
  }
  const kp = nativeFromSeed(seed);
  if (!kp.ok) throw new InvalidArgumentError(`${path} does not hold an nkey seed`, 'keyStore');
  if (kp.value.role !== role)
    throw new InvalidArgumentError(`${path} holds the wrong kind of key`, 'keyStore');
  return kp.value;
}

/** Reads a key file, refusing one that group or others can read or write. */
async function readSecret(path: string): Promise<string> {
  const st = await stat(path);
  if ((st.mode & 0o077) !== 0)
    throw new PermissionDeniedError(
      `${path} has mode ${(st.mode & 0o777).toString(8)}; key files must be 0600`,
    );
  return readFile(path, 'utf8');
}

async function writeSecret(path: string, text: string): Promise<void> {
  await writeFile(path, text, { mode: 0o600 });
  await chmod(path, 0o600);
}
