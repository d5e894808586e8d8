/**
 * Loads rollout.proto (which imports fleet.proto) with the same loader options as the
 * FleetService, for the server, the CLI and the tests.
 */
import {
  loadPackageDefinition,
  type GrpcObject,
  type ServiceClientConstructor,
  type ServiceDefinition,
} from '@grpc/grpc-js';
import { loadSync, type PackageDefinition } from '@grpc/proto-loader';
import { protoLoaderOptions } from './fleet-proto.ts';

export const rolloutProtoFile = 'launchfleet/controller/v1/rollout.proto';

export interface RolloutProto {
  readonly packageDefinition: PackageDefinition;
  readonly service: ServiceDefinition;
  readonly Client: ServiceClientConstructor;
}

let cached: RolloutProto | undefined;

export function loadRolloutProto(): RolloutProto {
  if (cached) return cached;
  const packageDefinition = loadSync(rolloutProtoFile, protoLoaderOptions);
  const root = loadPackageDefinition(packageDefinition);
  const v1 = ((root['launchfleet'] as GrpcObject)['controller'] as GrpcObject)['v1'] as GrpcObject;
  const Client = v1['RolloutService'] as ServiceClientConstructor;
  cached = { packageDefinition, service: Client.service, Client };
  return cached;
}
