/**
 * The per-domain enable/disable override database (docs/launchd-semantics.md §2.6): a flat map
 * from label to disabled, kept apart from plist files, so it survives restarts and the deletion
 * of the plist. `enable` writes an explicit `false` (launchd never deletes entries). Writes go
 * through FileSystemPort.writeFileAtomic, serialised so the file always holds the latest map.
 */
import { messageOf } from '@launchfleet/shared/errors';
import type { FileSystemPort } from '../../ports/file-system.ts';

interface OverrideFile {
  readonly version: 1;
  readonly disabled: Readonly<Record<string, boolean>>;
}

export class OverrideStore {
  private readonly map = new Map<string, boolean>();
  private writing: Promise<void> = Promise.resolve();
  private readonly fs: FileSystemPort;
  /** The file this store persists to. */
  readonly file: string;

  constructor(fs: FileSystemPort, file: string) {
    this.fs = fs;
    this.file = file;
  }

  /**
   * Reads the file. A missing file is an empty store; a corrupt one is reported (the caller logs
   * it) and treated as empty rather than stopping the agent.
   */
  async load(): Promise<{ readonly warning?: string }> {
    const bytes = await this.fs.readFile(this.file);
    this.map.clear();
    if (!bytes) return {};
    try {
      const doc = JSON.parse(new TextDecoder().decode(bytes)) as Partial<OverrideFile>;
      if (doc.version !== 1 || typeof doc.disabled !== 'object' || doc.disabled === null)
        return { warning: `${this.file}: unknown format; ignoring the overrides in it` };
      for (const [label, v] of Object.entries(doc.disabled))
        if (typeof v === 'boolean') this.map.set(label, v);
      return {};
    } catch (e) {
      return { warning: `${this.file}: not valid JSON (${messageOf(e)}); ignoring the overrides in it` };
    }
  }

  /** The override for a label: true = disabled, false = enabled, undefined = none. */
  get(label: string): boolean | undefined {
    return this.map.get(label);
  }

  /** Sets and persists an override; resolves once it is on disk. */
  set(label: string, disabled: boolean): Promise<void> {
    this.map.set(label, disabled);
    const snapshot: OverrideFile = { version: 1, disabled: Object.fromEntries([...this.map].sort()) };
    const next = this.writing.then(() =>
      this.fs.writeFileAtomic(this.file, JSON.stringify(snapshot, null, 2) + '\n', 0o644),
    );
    // Keep the chain alive after a failed write; the caller still sees this write's failure.
    this.writing = next.catch(() => undefined);
    return next;
  }

  /** All overrides, sorted by label (print-disabled). */
  entries(): [string, boolean][] {
    return [...this.map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }
}
