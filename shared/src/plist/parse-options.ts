/** Resource guards applied before and during parsing, so hostile input cannot exhaust memory or time. */
export interface PlistParseOptions {
  /** Largest accepted input in bytes (default 4 MiB). launchd plists are a few KiB. */
  readonly maxBytes?: number;
  /** Deepest nesting of arrays and dictionaries (default 64). */
  readonly maxDepth?: number;
  /** Most values in the document (default 100 000; in a binary plist a shared object counts once per use). */
  readonly maxNodes?: number;
}

/** The options with every default filled in. */
export interface PlistLimits {
  readonly maxBytes: number;
  readonly maxDepth: number;
  readonly maxNodes: number;
}

export const defaultPlistLimits: PlistLimits = {
  maxBytes: 4 * 1024 * 1024,
  maxDepth: 64,
  maxNodes: 100_000,
};

export function resolveLimits(opts: PlistParseOptions | undefined): PlistLimits {
  return {
    maxBytes: opts?.maxBytes ?? defaultPlistLimits.maxBytes,
    maxDepth: opts?.maxDepth ?? defaultPlistLimits.maxDepth,
    maxNodes: opts?.maxNodes ?? defaultPlistLimits.maxNodes,
  };
}
