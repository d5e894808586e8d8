/**
 * What the single-file agent (a Node single-executable application, scripts/build-agent.sh)
 * carries inside its binary, read through `node:sea`. Outside such a binary (a checkout, the
 * Docker image) every function here answers "not a single file" and nothing else changes.
 *
 * Assets, named in node-agent/scripts/bundle-agent.mjs:
 *   build-info.json     { version, node, builtAt } of the build
 *   control-proto.json  proto/launchfleet/agent/v1/control.proto as protobufjs JSON
 *   lfnative.node       the N-API addon, built against the embedded Node's headers
 *   lf-exec             the exec shim
 */
import { readFileSync } from 'node:fs';
import { getAsset, isSea } from 'node:sea';

/** True inside the single-file agent. */
export function isSingleFile(): boolean {
  try {
    return isSea();
  } catch {
    return false;
  }
}

/** An embedded asset's bytes, or undefined outside the single-file agent. */
export function seaAsset(name: string): Uint8Array | undefined {
  if (!isSingleFile()) return undefined;
  return new Uint8Array(getAsset(name));
}

/** The embedded build description (undefined outside the single-file agent). */
export function seaBuildInfo(): { readonly version: string; readonly node: string } | undefined {
  const bytes = seaAsset('build-info.json');
  if (!bytes) return undefined;
  return JSON.parse(new TextDecoder().decode(bytes)) as { version: string; node: string };
}

/** This build's version (agent and lfctl): the single-file build's, else node-agent/package.json's. */
export function packageVersion(): string {
  const sea = seaBuildInfo();
  if (sea) return sea.version;
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}
