import { execFile } from 'node:child_process';
import type { GroupRecord, KnownAnswer, UserDb, UserRecord } from '../ports/user-db.ts';
import { loadAddon } from './native-build.ts';

/**
 * The account database as the OS answers it, so NSS (LDAP, sssd) and Directory Services answer,
 * not just /etc/passwd: by default the C library's getpwnam_r/getpwuid_r/getgrnam_r on libuv's
 * thread pool (the lfnative addon, lf-users.c: no process per lookup); with an injected
 * CommandRunner, or without the addon, the OS's tools: `getent passwd|group` on Linux; `id -P`
 * (a master.passwd line) and `dscl . -read /Groups/<name> PrimaryGroupID` on macOS.
 */

/** The addon's lookups (lf-users.c); null = no such account or the lookup failed. */
export interface NativeAccountLookups {
  userByName(name: string): Promise<UserRecord | null>;
  userById(uid: number): Promise<UserRecord | null>;
  groupByName(name: string): Promise<GroupRecord | null>;
}

/** The addon's lookups, or undefined when the addon is not built (then the tools are used). */
export function nativeAccountLookups(): NativeAccountLookups | undefined {
  try {
    const a = loadAddon('lfnative') as Partial<NativeAccountLookups>;
    if (
      typeof a.userByName === 'function' &&
      typeof a.userById === 'function' &&
      typeof a.groupByName === 'function'
    )
      return a as NativeAccountLookups;
  } catch {
    // no addon
  }
  return undefined;
}

/** Runs a command; resolves with its exit code and stdout (never rejects for a non-zero exit). */
export type CommandRunner = (
  file: string,
  args: readonly string[],
) => Promise<{ readonly code: number; readonly stdout: string }>;

/** The real runner: execFile with a timeout and an output cap, no shell. */
export const execCommand: CommandRunner = (file, args) =>
  new Promise((resolve) => {
    execFile(
      file,
      [...args],
      { timeout: 5000, maxBuffer: 64 * 1024, env: { PATH: '/usr/bin:/bin:/usr/sbin:/sbin' } },
      (err, stdout) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout: String(stdout) });
      },
    );
  });

/** Options of the real user database. */
export interface RealUserDbOptions {
  readonly platform?: NodeJS.Platform;
  /** Look up through these commands (getent, id, dscl) instead of the C library. */
  readonly run?: CommandRunner;
  /** Default: the addon's lookups, unless `run` is given. */
  readonly native?: NativeAccountLookups;
  /** How long an answer (found or not) is reused. Default 30 s; 0 disables the cache. */
  readonly cacheTtlMs?: number;
  /** Clock for the cache (injected for tests). */
  readonly now?: () => number;
}

/** Account and group names we look up: POSIX portable names (plus a trailing $ for machine accounts). */
const namePattern = /^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,255}\$?$/;
const maxId = 0xfffffffe;

function parseId(s: string | undefined): number | undefined {
  if (s === undefined || !/^\d{1,10}$/.test(s)) return undefined;
  const n = Number(s);
  return n <= maxId ? n : undefined;
}

/** Parses one `getent passwd` line (7 fields) or one `id -P` line (10 fields). */
export function parsePasswdLine(line: string): UserRecord | undefined {
  const f = line.replace(/\r?\n$/, '').split(':');
  let name, uid, gid, home, shell;
  if (f.length === 7) [name, , uid, gid, , home, shell] = f;
  else if (f.length === 10) [name, , uid, gid, , , , , home, shell] = f;
  else return undefined;
  const u = parseId(uid);
  const g = parseId(gid);
  if (!name || u === undefined || g === undefined || home === undefined || shell === undefined)
    return undefined;
  return { name, uid: u, gid: g, home, shell };
}

/** Parses one `getent group` line: name:passwd:gid:members. */
export function parseGroupLine(line: string): GroupRecord | undefined {
  const f = line.replace(/\r?\n$/, '').split(':');
  if (f.length !== 4 || !f[0]) return undefined;
  const gid = parseId(f[2]);
  return gid === undefined ? undefined : { name: f[0], gid };
}

/** Parses `dscl . -read /Groups/<name> PrimaryGroupID` output ("PrimaryGroupID: 20"). */
export function parseDsclGroup(name: string, text: string): GroupRecord | undefined {
  const m = /^PrimaryGroupID:\s*(\d+)\s*$/m.exec(text);
  const gid = parseId(m?.[1]);
  return gid === undefined ? undefined : { name, gid };
}

/** One cached answer (a record, or undefined = not found). */
interface CacheEntry {
  /** When the lookup that produced it started. */
  readonly at: number;
  readonly value: Promise<unknown>;
  /** Set once `value` has settled. */
  settled: boolean;
  result: unknown;
  /** A background refresh of this entry is under way. */
  refreshing: boolean;
}

/**
 * UserDb over getent / id / dscl, with a small TTL cache that `invalidate()` clears.
 *
 * Stale-while-revalidate: a found account older than the TTL is still answered at once from the
 * cache, and a refresh runs in the background; its answer replaces the entry (so an account
 * deleted since is "not found" from then on, at most one lookup later). A lookup runs a process
 * (getent) on the path to a job's start only when nothing is cached: the first activation after
 * the TTL no longer pays for a spawn. A "not found" answer is not served stale: after the TTL it
 * is looked up again before answering, so an account created since is found at once, as before.
 */
export class RealUserDb implements UserDb {
  readonly #platform: NodeJS.Platform;
  readonly #run: CommandRunner;
  readonly #native: NativeAccountLookups | undefined;
  readonly #ttl: number;
  readonly #now: () => number;
  readonly #cache = new Map<string, CacheEntry>();
  /** Bumped by invalidate(): a refresh started before it must not write its answer back. */
  #generation = 0;

  constructor(options: RealUserDbOptions = {}) {
    this.#platform = options.platform ?? process.platform;
    this.#run = options.run ?? execCommand;
    this.#native = options.native ?? (options.run ? undefined : nativeAccountLookups());
    this.#ttl = options.cacheTtlMs ?? 30_000;
    this.#now = options.now ?? Date.now;
  }

  /** Forgets every cached answer (call after accounts change). */
  invalidate(): void {
    this.#cache.clear();
    this.#generation++;
  }

  userByName(name: string): Promise<UserRecord | undefined> {
    if (!namePattern.test(name)) return Promise.resolve(undefined);
    return this.#cached(`u:${name}`, () => this.#user(name, 'name'));
  }

  userById(uid: number): Promise<UserRecord | undefined> {
    if (!Number.isInteger(uid) || uid < 0 || uid > maxId) return Promise.resolve(undefined);
    return this.#cached(`i:${uid}`, () => this.#user(String(uid), 'id'));
  }

  groupByName(name: string): Promise<GroupRecord | undefined> {
    if (!namePattern.test(name)) return Promise.resolve(undefined);
    return this.#cached(`g:${name}`, () => this.#group(name));
  }

  knownUserByName(name: string): KnownAnswer<UserRecord> | undefined {
    if (!namePattern.test(name)) return { found: undefined };
    return this.#known(`u:${name}`, () => this.#user(name, 'name'));
  }

  knownUserById(uid: number): KnownAnswer<UserRecord> | undefined {
    if (!Number.isInteger(uid) || uid < 0 || uid > maxId) return { found: undefined };
    return this.#known(`i:${uid}`, () => this.#user(String(uid), 'id'));
  }

  knownGroupByName(name: string): KnownAnswer<GroupRecord> | undefined {
    if (!namePattern.test(name)) return { found: undefined };
    return this.#known(`g:${name}`, () => this.#group(name));
  }

  async #user(key: string, by: 'name' | 'id'): Promise<UserRecord | undefined> {
    if (this.#native) {
      const rec =
        by === 'name' ? await this.#native.userByName(key) : await this.#native.userById(Number(key));
      // Answers are checked against the question, as the tools' are.
      return rec && (by === 'name' ? rec.name : String(rec.uid)) === key ? rec : undefined;
    }
    const r =
      this.#platform === 'darwin'
        ? await this.#run('/usr/bin/id', ['-P', key])
        : await this.#run('getent', ['passwd', key]);
    if (r.code !== 0) return undefined;
    const rec = parsePasswdLine(r.stdout.split('\n')[0] ?? '');
    // getent and id accept both names and ids: make sure the answer is for what was asked.
    if (!rec || (by === 'name' ? rec.name : String(rec.uid)) !== key) return undefined;
    return rec;
  }

  async #group(name: string): Promise<GroupRecord | undefined> {
    if (this.#native) {
      const rec = await this.#native.groupByName(name);
      return rec?.name === name ? rec : undefined;
    }
    if (this.#platform === 'darwin') {
      const r = await this.#run('/usr/bin/dscl', ['.', '-read', `/Groups/${name}`, 'PrimaryGroupID']);
      return r.code === 0 ? parseDsclGroup(name, r.stdout) : undefined;
    }
    const r = await this.#run('getent', ['group', name]);
    if (r.code !== 0) return undefined;
    const rec = parseGroupLine(r.stdout.split('\n')[0] ?? '');
    return rec?.name === name ? rec : undefined;
  }

  #cached<T>(key: string, load: () => Promise<T>): Promise<T> {
    if (this.#ttl <= 0) return load().catch(() => undefined as T);
    const now = this.#now();
    const hit = this.#cache.get(key);
    if (hit) {
      if (!hit.settled || now - hit.at < this.#ttl) return hit.value as Promise<T>;
      if (hit.result !== undefined) {
        if (!hit.refreshing) {
          hit.refreshing = true;
          this.#refresh(key, hit, load, now);
        }
        return hit.value as Promise<T>;
      }
    }
    return this.#store(
      key,
      now,
      load().catch(() => undefined as T),
    );
  }

  /**
   * What #cached would answer without a lookup: a settled answer within the TTL, or a found one
   * past it (served stale, the refresh started as #cached starts it); otherwise undefined.
   */
  #known<T>(key: string, load: () => Promise<T | undefined>): KnownAnswer<T> | undefined {
    if (this.#ttl <= 0) return undefined;
    const hit = this.#cache.get(key);
    if (!hit?.settled) return undefined;
    const now = this.#now();
    if (now - hit.at < this.#ttl) return { found: hit.result as T | undefined };
    if (hit.result === undefined) return undefined;
    if (!hit.refreshing) {
      hit.refreshing = true;
      this.#refresh(key, hit, load, now);
    }
    return { found: hit.result as T };
  }

  #store<T>(key: string, at: number, pending: Promise<T>): Promise<T> {
    const entry: CacheEntry = { at, value: pending, settled: false, result: undefined, refreshing: false };
    void pending.then((r) => {
      entry.settled = true;
      entry.result = r;
    });
    if (!this.#cache.has(key) && this.#cache.size >= 1024) this.#cache.clear(); // bounded: a cache, not a mirror
    this.#cache.set(key, entry);
    return pending;
  }

  #refresh<T>(key: string, stale: CacheEntry, load: () => Promise<T>, at: number): void {
    const generation = this.#generation;
    void load()
      .catch(() => undefined as T)
      .then((r) => {
        // Dropped when invalidate() ran meanwhile or another answer replaced the entry.
        if (generation !== this.#generation || this.#cache.get(key) !== stale) return;
        const entry: CacheEntry = {
          at,
          value: Promise.resolve(r),
          settled: true,
          result: r,
          refreshing: false,
        };
        this.#cache.set(key, entry);
      });
  }
}
