/**
 * An in-memory FileSystemPort for unit tests: files with owner and mode, directories, symlinks,
 * and watches that fire (synchronously, once per change) on the watched path and, for a
 * directory, on changes to its entries. Tests mutate it with `writeFile`, `mkdir`, `remove`.
 */
import { dirname, posix } from 'node:path';
import type { Disposable, FileStat, FileSystemPort } from '../ports/file-system.ts';

interface Node {
  kind: 'file' | 'directory' | 'symlink';
  data?: Uint8Array;
  target?: string;
  uid: number;
  mode: number;
}

export class FakeFileSystem implements FileSystemPort {
  private readonly nodes = new Map<string, Node>([['/', { kind: 'directory', uid: 0, mode: 0o755 }]]);
  private readonly watchers = new Map<string, Set<() => void>>();
  /** Atomic writes performed, in order (the override store's persistence is asserted through this). */
  readonly atomicWrites: { path: string; data: string }[] = [];
  /** Set to make writeFileAtomic fail (disk full). */
  failWrites = false;

  /** Creates or replaces a file, creating parent directories (root-owned, 0755). */
  writeFile(path: string, data: string | Uint8Array, opts: { uid?: number; mode?: number } = {}): void {
    const p = norm(path);
    this.mkdir(dirname(p));
    const existed = this.nodes.has(p);
    this.nodes.set(p, {
      kind: 'file',
      data: typeof data === 'string' ? new TextEncoder().encode(data) : data,
      uid: opts.uid ?? 0,
      mode: opts.mode ?? 0o644,
    });
    this.changed(p, existed ? 'modify' : 'create');
  }

  mkdir(path: string, opts: { uid?: number; mode?: number } = {}): void {
    const p = norm(path);
    if (this.nodes.has(p)) return;
    if (p !== '/') this.mkdir(dirname(p));
    this.nodes.set(p, { kind: 'directory', uid: opts.uid ?? 0, mode: opts.mode ?? 0o755 });
    this.changed(p, 'create');
  }

  symlink(path: string, target: string): void {
    const p = norm(path);
    this.mkdir(dirname(p));
    this.nodes.set(p, { kind: 'symlink', target: norm(target), uid: 0, mode: 0o777 });
    this.changed(p, 'create');
  }

  chmod(path: string, mode: number): void {
    const n = this.nodes.get(norm(path));
    if (n) n.mode = mode;
  }

  chown(path: string, uid: number): void {
    const n = this.nodes.get(norm(path));
    if (n) n.uid = uid;
  }

  /** Removes a file or a directory tree. */
  remove(path: string): void {
    const p = norm(path);
    for (const k of [...this.nodes.keys()]) if (k === p || k.startsWith(p + '/')) this.nodes.delete(k);
    this.changed(p, 'delete');
  }

  // ---- the port ----

  exists(path: string): Promise<boolean> {
    return Promise.resolve(this.resolve(norm(path)) !== undefined);
  }

  dirHasEntries(path: string): Promise<boolean> {
    const p = norm(path);
    const n = this.resolve(p);
    if (n?.kind !== 'directory') return Promise.resolve(false);
    return Promise.resolve(this.children(p).length > 0);
  }

  watch(path: string, onChange: () => void): Disposable {
    const p = norm(path);
    let set = this.watchers.get(p);
    if (!set) this.watchers.set(p, (set = new Set()));
    const fn = (): void => onChange();
    set.add(fn);
    return { dispose: () => void set.delete(fn) };
  }

  readFile(path: string): Promise<Uint8Array | undefined> {
    const n = this.resolve(norm(path));
    return Promise.resolve(n?.kind === 'file' ? n.data : undefined);
  }

  writeFileAtomic(path: string, data: Uint8Array | string, mode?: number): Promise<void> {
    if (this.failWrites) return Promise.reject(new Error(`ENOSPC: no space left on device, write '${path}'`));
    const text = typeof data === 'string' ? data : new TextDecoder().decode(data);
    this.atomicWrites.push({ path: norm(path), data: text });
    // A copy: the caller may reuse its buffer once the write has settled (FileSystemPort).
    this.writeFile(path, typeof data === 'string' ? data : data.slice(), mode === undefined ? {} : { mode });
    return Promise.resolve();
  }

  stat(path: string): Promise<FileStat | undefined> {
    const p = norm(path);
    const link = this.nodes.get(p);
    const n = this.resolve(p);
    if (!n || !link) return Promise.resolve(undefined);
    return Promise.resolve({
      kind: n.kind === 'file' ? 'file' : n.kind === 'directory' ? 'directory' : 'other',
      isSymlink: link.kind === 'symlink',
      uid: n.uid,
      mode: n.mode,
    });
  }

  listDir(path: string): Promise<readonly string[] | undefined> {
    const p = norm(path);
    const n = this.resolve(p);
    if (n?.kind !== 'directory') return Promise.resolve(undefined);
    return Promise.resolve(this.children(p).map((c) => posix.basename(c)));
  }

  /** Number of live watches (to assert that disarm disposes them). */
  watchCount(): number {
    let n = 0;
    for (const s of this.watchers.values()) n += s.size;
    return n;
  }

  private resolve(p: string, depth = 0): Node | undefined {
    const n = this.nodes.get(p);
    if (n?.kind === 'symlink' && n.target !== undefined && depth < 8)
      return this.resolve(n.target, depth + 1);
    return n?.kind === 'symlink' ? undefined : n;
  }

  private children(p: string): string[] {
    const prefix = p === '/' ? '/' : p + '/';
    return [...this.nodes.keys()].filter(
      (k) => k !== p && k.startsWith(prefix) && !k.slice(prefix.length).includes('/'),
    );
  }

  private changed(p: string, _what: 'create' | 'modify' | 'delete'): void {
    const targets = [p, dirname(p)];
    for (const t of targets) for (const fn of [...(this.watchers.get(t) ?? [])]) fn();
  }
}

function norm(p: string): string {
  const n = posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}
