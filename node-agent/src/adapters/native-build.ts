import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/**
 * Where node-gyp puts the native pieces (node-agent/native/build/Release), resolved from this
 * compiled module (node-agent/dist/adapters/ -> ../../native/build/Release/).
 */
export const nativeBuildDir: string = fileURLToPath(new URL('../../native/build/Release/', import.meta.url));

/** Thrown when the native build is missing: the fix is a build, not a retry. */
export class NativeBuildMissingError extends Error {
  override readonly name = 'NativeBuildMissingError';
  readonly path: string;
  constructor(path: string, cause?: unknown) {
    super(
      `Launchfleet native build missing: ${path} does not exist or cannot be loaded. ` +
        `Run \`npm run build\` at the repository root (it runs node-gyp in node-agent/native).`,
      { cause },
    );
    this.path = path;
  }
}

/** Absolute path of the lf-exec shim; throws NativeBuildMissingError if it was not built. */
export function execShimPath(): string {
  const path = nativeBuildDir + 'lf-exec';
  if (!existsSync(path)) throw new NativeBuildMissingError(path);
  return path;
}

/** Loads a compiled addon from the build directory (cached by Node's require). */
export function loadAddon(name: string): unknown {
  const path = `${nativeBuildDir}${name}.node`;
  if (!existsSync(path)) throw new NativeBuildMissingError(path);
  try {
    return createRequire(import.meta.url)(path);
  } catch (err) {
    throw new NativeBuildMissingError(path, err);
  }
}
