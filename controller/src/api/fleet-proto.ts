/**
 * Loads proto/launchfleet/controller/v1/*.proto at run time (@grpc/proto-loader; the .proto
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

export const protoLoaderOptions: Options = {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [protoRoot],
};

export interface FleetProto {
  readonly packageDefinition: PackageDefinition;
  readonly service: ServiceDefinition;
  readonly Client: ServiceClientConstructor;
}

let cached: FleetProto | undefined;

export function loadFleetProto(): FleetProto {
  if (cached) return cached;
  const packageDefinition = loadSync(fleetProtoFile, protoLoaderOptions);
  const root = loadPackageDefinition(packageDefinition);
  const v1 = ((root['launchfleet'] as GrpcObject)['controller'] as GrpcObject)['v1'] as GrpcObject;
  const Client = v1['FleetService'] as ServiceClientConstructor;
  cached = { packageDefinition, service: Client.service, Client };
  return cached;
}
