/**
 * API tokens: `lfat_` + 43 base64url characters (256 random bits). The controller holds only
 * their SHA-256 (a tokens file, JSON), each with a name (shown in the audit stream) and a role:
 *
 * ```json
 * { "tokens": [ { "name": "alice", "role": "admin", "sha256": "<64 hex>" } ] }
 * ```
 *
 * With 256 random bits a plain hash is enough (no password stretching); lookup is by hash, so
 * nothing compares a presented secret with a stored one byte by byte.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile, chmod } from 'node:fs/promises';
import { InvalidArgumentError } from '@launchfleet/shared';
import { type Role, isRole } from './core/roles.ts';

/** A caller the controller knows. */
export interface ApiPrincipal {
  readonly name: string;
  readonly role: Role;
}

/** One stored token. */
export interface ApiTokenEntry extends ApiPrincipal {
  readonly sha256: string;
}

export const apiTokenPattern = /^lfat_[A-Za-z0-9_-]{43}$/;
const namePattern = /^[A-Za-z0-9._@-]{1,64}$/;

/** Makes a new token and its stored entry. */
export function newApiToken(name: string, role: Role): { token: string; entry: ApiTokenEntry } {
  if (!namePattern.test(name))
    throw new InvalidArgumentError(`bad token name ${JSON.stringify(name)}`, 'name');
  const token = `lfat_${randomBytes(32).toString('base64url')}`;
  return { token, entry: { name, role, sha256: hashApiToken(token) } };
}

export function hashApiToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Parses a tokens file's text; every problem names the entry. */
export function parseApiTokens(text: string, file: string): ApiTokenEntry[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new InvalidArgumentError(`${file}: not valid JSON: ${(e as Error).message}`, file);
  }
  const list = (doc as { tokens?: unknown } | null)?.tokens;
  if (!Array.isArray(list)) throw new InvalidArgumentError(`${file}: expected { "tokens": [...] }`, file);
  const seen = new Set<string>();
  return list.map((t: unknown, i) => {
    const o = (t ?? {}) as Record<string, unknown>;
    const where = `${file}: tokens[${i}]`;
    if (typeof o['name'] !== 'string' || !namePattern.test(o['name']))
      throw new InvalidArgumentError(`${where}.name must match ${String(namePattern)}`, 'name');
    if (!isRole(o['role']))
      throw new InvalidArgumentError(`${where}.role must be viewer, operator or admin`, 'role');
    if (typeof o['sha256'] !== 'string' || !/^[0-9a-f]{64}$/.test(o['sha256']))
      throw new InvalidArgumentError(`${where}.sha256 must be 64 lower-case hex digits`, 'sha256');
    if (seen.has(o['sha256'])) throw new InvalidArgumentError(`${where}: duplicate token`, 'sha256');
    seen.add(o['sha256']);
    return { name: o['name'], role: o['role'], sha256: o['sha256'] };
  });
}

/** Looks presented tokens up. */
export class ApiTokenTable {
  readonly #byHash: Map<string, ApiPrincipal>;

  constructor(entries: readonly ApiTokenEntry[]) {
    this.#byHash = new Map(entries.map((e) => [e.sha256, { name: e.name, role: e.role }]));
  }

  static async load(file: string): Promise<ApiTokenTable> {
    return new ApiTokenTable(parseApiTokens(await readFile(file, 'utf8'), file));
  }

  get size(): number {
    return this.#byHash.size;
  }

  /** The principal of a token by its SHA-256 (hex), or undefined (a console session keeps only the hash). */
  byHash(sha256: string): ApiPrincipal | undefined {
    return this.#byHash.get(sha256);
  }

  /** The principal of a presented token, or undefined. */
  lookup(token: string): ApiPrincipal | undefined {
    if (!apiTokenPattern.test(token)) return undefined;
    return this.#byHash.get(hashApiToken(token));
  }
}

/** Adds a new token to a tokens file (created with mode 0600 if missing); returns the token text. */
export async function addApiToken(file: string, name: string, role: Role): Promise<string> {
  let entries: ApiTokenEntry[] = [];
  try {
    entries = parseApiTokens(await readFile(file, 'utf8'), file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const { token, entry } = newApiToken(name, role);
  entries.push(entry);
  await writeFile(file, `${JSON.stringify({ tokens: entries }, null, 2)}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  return token;
}
