/**
 * Loads proto/launchfleet/agent/v1/control.proto at run time (the one schema source; no
 * generated code). The proto directory is found by walking up from this compiled module, so it
 * works from node-agent/dist/control in the repository and from an installed copy that ships
 * proto/ beside the package; LAUNCHFLEET_PROTO_DIR overrides the search. The single-file agent
 * carries the same schema as protobufjs JSON (sea-assets.ts) and reads no file.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { seaAsset } from '../sea/sea-assets.ts';

const controlProto = join('launchfleet', 'agent', 'v1', 'control.proto');

/** The directory holding `launchfleet/agent/v1/control.proto`. */
export function protoDir(): string {
  const env = process.env['LAUNCHFLEET_PROTO_DIR'];
  if (env !== undefined && env !== '') return env;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'proto');
    if (existsSync(join(candidate, controlProto))) return candidate;
    const up = dirname(dir);
    if (up === dir)
      throw new Error(`cannot find proto/${controlProto} above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

let cached: grpc.ServiceClientConstructor | undefined;

/** The ControlService definition (client constructor; `.service` is the server definition). */
export function controlService(): grpc.ServiceClientConstructor {
  if (cached) return cached;
  const options = {
    keepCase: false,
    longs: Number,
    enums: String,
    defaults: false,
    // control.proto has no oneof of its own; `true` would add a virtual `_<field>` key for every
    // proto3 `optional` field (e.g. `_lastExitCode`), which `--json` would print.
    oneofs: false,
  };
  const embedded = seaAsset('control-proto.json');
  const def = embedded
    ? protoLoader.fromJSON(JSON.parse(new TextDecoder().decode(embedded)) as object, options)
    : protoLoader.loadSync(controlProto, { ...options, includeDirs: [protoDir()] });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    launchfleet: { agent: { v1: { ControlService: grpc.ServiceClientConstructor } } };
  };
  cached = pkg.launchfleet.agent.v1.ControlService;
  return cached;
}
