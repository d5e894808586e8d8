/**
 * Where managed plists live on disk, so administrators can read what the fleet runs and drift
 * can be detected:
 *
 * ```
 * <stateDir>/managed/<domainToken>/<labelToken>.plist     root-owned, 0644 (dirs 0755)
 * ```
 * Both path segments use the reversible label-token encoding (`gui/501` -> `gui_2F501`,
 * `com.acme.backup` -> `com_2Eacme_2Ebackup`): only `[A-Za-z0-9_-]` can appear, so no label or
 * domain can name `..`, a slash or anything outside the managed directory.
 */
import { createHash } from 'node:crypto';
import { mkdir, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeLabelToken, encodeLabelToken } from '@launchfleet/shared/messages';
import type { FileSystemPort } from '../ports/file-system.ts';
import type { ObservedFile } from './core/reconcile-plan.ts';

/** The managed directory under a state directory. */
export function managedRoot(stateDir: string): string {
  return join(stateDir, 'managed');
}

/** The managed directory of one domain target. */
export function managedDomainDir(stateDir: string, target: string): string {
  return join(managedRoot(stateDir), encodeLabelToken(target));
}

/** The managed plist path of (target, label). */
export function managedPath(stateDir: string, target: string, label: string): string {
  return join(managedDomainDir(stateDir, target), `${encodeLabelToken(label)}.plist`);
}

/** True when `path` is a managed plist under `stateDir` (lfctl can say "managed by the fleet"). */
export function isManagedPath(stateDir: string, path: string | undefined): boolean {
  return path !== undefined && path.startsWith(managedRoot(stateDir) + '/');
}

/** SHA-256 hex of a plist text or file content. */
export function plistDigest(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Reads, writes and lists managed files through the file-system port. */
export class ManagedFiles {
  readonly #stateDir: string;
  readonly #fs: FileSystemPort;
  /** Domain directories this process made (or found) already. */
  readonly #madeDirs = new Set<string>();

  constructor(stateDir: string, fs: FileSystemPort) {
    this.#stateDir = stateDir;
    this.#fs = fs;
  }

  get root(): string {
    return managedRoot(this.#stateDir);
  }

  path(target: string, label: string): string {
    return managedPath(this.#stateDir, target, label);
  }

  domainDir(target: string): string {
    return managedDomainDir(this.#stateDir, target);
  }

  /** Writes a managed plist atomically, root-owned 0644 (readable by admins, writable by root only). */
  async write(target: string, label: string, plist: string): Promise<string> {
    const dir = this.domainDir(target);
    const p = this.path(target, label);
    // The directory is made once per process, not per write (a mkdir per apply was a few % of
    // an agent's CPU for it); if someone removed it since, the write fails and it is made again.
    if (!this.#madeDirs.has(dir)) {
      await mkdir(dir, { recursive: true, mode: 0o755 });
      this.#madeDirs.add(dir);
    }
    try {
      await this.#fs.writeFileAtomic(p, plist, 0o644);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      await mkdir(dir, { recursive: true, mode: 0o755 });
      await this.#fs.writeFileAtomic(p, plist, 0o644);
    }
    return p;
  }

  /** Deletes a managed plist (and its domain directory once empty). */
  async remove(target: string, label: string): Promise<void> {
    await rm(this.path(target, label), { force: true });
    const dir = this.domainDir(target);
    this.#madeDirs.delete(dir);
    await rmdir(dir).catch(() => undefined);
  }

  /** Every managed file with its digest. Entries that are not our encoding are ignored. */
  async list(): Promise<ObservedFile[]> {
    const out: ObservedFile[] = [];
    const domains = (await this.#fs.listDir?.(this.root)) ?? [];
    for (const dt of domains) {
      const target = decodeLabelToken(dt);
      if (!target.ok) continue;
      const names = (await this.#fs.listDir?.(join(this.root, dt))) ?? [];
      for (const name of names) {
        if (!name.endsWith('.plist')) continue;
        const label = decodeLabelToken(name.slice(0, -'.plist'.length));
        if (!label.ok) continue;
        const bytes = await this.#fs.readFile(join(this.root, dt, name)).catch(() => undefined);
        if (bytes === undefined) continue;
        out.push({ target: target.value, label: label.value, digest: plistDigest(bytes) });
      }
    }
    return out;
  }
}
