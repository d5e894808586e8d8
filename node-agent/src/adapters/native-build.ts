import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/**
 * Where node-gyp's output for the Node running this process lives in the repository, resolved
 * from this compiled module (node-agent/dist/adapters/ -> ../../native/...):
 * `native/build-abi/node-v<ABI>-<platform>-<arch>/` when node-agent/scripts/build-native.mjs built
 * one for this runtime (it builds for every Node under .tools/ too, so each runtime loads an
 * addon compiled against its own headers), else `native/build/Release/` (the layout of a single
 * build, as the Docker image has it).
 */
function repositoryNativeDir(): string {
  const abi = `node-v${process.versions.modules}-${process.platform}-${process.arch}`;
  const perAbi = fileURLToPath(new URL(`../../native/build-abi/${abi}/`, import.meta.url));
  if (existsSync(`${perAbi}lfnative.node`)) return perAbi;
  return fileURLToPath(new URL('../../native/build/Release/', import.meta.url));
}

/** The repository's native build directory for this runtime (see repositoryNativeDir). */
export const nativeBuildDir: string = repositoryNativeDir();

let chosenDir: string | undefined;

/**
 * Points the native pieces at another directory: the single-file agent calls this with the
 * directory it extracted and checked its embedded addon and shim into (sea/native-pieces.ts).
 */
export function useNativeDir(dir: string): void {
  chosenDir = dir.endsWith('/') ? dir : `${dir}/`;
}

/** The directory the native pieces are loaded from now. */
export function nativeDir(): string {
  return chosenDir ?? nativeBuildDir;
}

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
  const path = nativeDir() + 'lf-exec';
  if (!existsSync(path)) throw new NativeBuildMissingError(path);
  return path;
}

/** Loads a compiled addon from the native directory (cached by Node's require). */
export function loadAddon(name: string): unknown {
  const path = `${nativeDir()}${name}.node`;
  if (!existsSync(path)) throw new NativeBuildMissingError(path);
  try {
    return createRequire(import.meta.url)(path);
  } catch (err) {
    throw new NativeBuildMissingError(path, err);
  }
}
