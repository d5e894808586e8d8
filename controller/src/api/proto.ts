/**
 * Loads the services of proto/launchfleet/controller/v1/*.proto at run time (@grpc/proto-loader; the .proto
 * files are the one schema source, no generated code). The same options are used by the
 * server, the CLI and the tests, so every side sees the same JavaScript shapes:
 * camelCase fields, int64 as numbers, enums as their names, oneofs with a `kind` field.
 */
import { fileURLToPath } from 'node:url';
import {
  loadPackageDefinition,
  type GrpcObject,
  type ServiceClientConstructor,
  type ServiceDefinition,
} from '@grpc/grpc-js';
import { loadSync, type Options, type PackageDefinition } from '@grpc/proto-loader';

/** The repository's proto/ directory (controller/dist/api -> ../../../proto). */
export const protoRoot = fileURLToPath(new URL('../../../proto/', import.meta.url));
export const fleetProtoFile = 'launchfleet/controller/v1/fleet.proto';
export const fleetServiceName = 'launchfleet.controller.v1.FleetService';
export const rolloutProtoFile = 'launchfleet/controller/v1/rollout.proto';
export const rolloutServiceName = 'launchfleet.controller.v1.RolloutService';

export const protoLoaderOptions: Options = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [protoRoot],
};

/** A service as grpc-js wants it: the definition for the server, a client class for callers. */
export interface ServiceProto {
  readonly packageDefinition: PackageDefinition;
  readonly service: ServiceDefinition;
  readonly Client: ServiceClientConstructor;
}

const cache = new Map<string, ServiceProto>();

/** Service `name` of package launchfleet.controller.v1, from `file` (loaded once). */
function loadService(file: string, name: string): ServiceProto {
  const hit = cache.get(name);
  if (hit) return hit;
  const packageDefinition = loadSync(file, protoLoaderOptions);
  const root = loadPackageDefinition(packageDefinition);
  const v1 = ((root['launchfleet'] as GrpcObject)['controller'] as GrpcObject)['v1'] as GrpcObject;
  const Client = v1[name] as ServiceClientConstructor;
  const p = { packageDefinition, service: Client.service, Client };
  cache.set(name, p);
  return p;
}

export const loadFleetProto = (): ServiceProto => loadService(fleetProtoFile, 'FleetService');

/** rollout.proto imports fleet.proto; its package definition holds both services. */
export const loadRolloutProto = (): ServiceProto => loadService(rolloutProtoFile, 'RolloutService');
