/**
 * The gRPC side of the control API: one grpc-js Server per control socket, fed the connections
 * that control-server.ts accepts on it (grpc-js's connection injector), so the socket's scope
 * stays the socket's. Loaded by control-server.ts on the first connection to any control
 * socket: grpc-js, @grpc/proto-loader and protobufjs with the Node modules they pull in (http2,
 * tls, crypto, zlib) cost the agent about 10 MB of memory (test/bench/RESULTS.md), which an
 * agent nobody runs lfctl against never needs.
 */
import type { Duplex } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { messageOf } from '@launchfleet/shared/errors';
import type { SupervisorLog } from '../supervisor/supervisor-log.ts';
import { scopeName, type Scope } from './authorization.ts';
import type { ControlService } from './control-service.ts';
import { controlService } from './proto.ts';
import type { ControlMethod, ControlMethods } from './wire.ts';

const METHODS: readonly ControlMethod[] = [
  'Bootstrap',
  'Bootout',
  'Enable',
  'Disable',
  'Kickstart',
  'Kill',
  'PrintService',
  'PrintDomain',
  'PrintDisabled',
  'Blame',
  'List',
  'Load',
  'Unload',
  'Start',
  'Stop',
  'Version',
];

/** Serves the control service to the connections handed to it, all in one scope. */
export interface GrpcEndpoint {
  /** Serves one accepted connection (HTTP/2, gRPC over it). */
  inject(connection: Duplex): void;
  /** Cancels in-flight calls and closes every connection. */
  close(): void;
}

export function grpcEndpoint(o: {
  readonly service: ControlService;
  readonly scope: Scope;
  readonly log: SupervisorLog;
}): GrpcEndpoint {
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 4 * 1024 * 1024 });
  server.addService(controlService().service, implementation(o));
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  return {
    inject: (connection) => injector.injectConnection(connection),
    close: () => {
      injector.destroy();
      server.forceShutdown();
    },
  };
}

function implementation(o: {
  readonly service: ControlService;
  readonly scope: Scope;
  readonly log: SupervisorLog;
}): grpc.UntypedServiceImplementation {
  const impl: grpc.UntypedServiceImplementation = {};
  for (const m of METHODS) {
    impl[m] = (
      call: grpc.ServerUnaryCall<ControlMethods[typeof m][0], ControlMethods[typeof m][1]>,
      callback: grpc.sendUnaryData<ControlMethods[typeof m][1]>,
    ) => {
      o.service.call(m, o.scope, call.request).then(
        (reply) => callback(null, reply),
        (e: unknown) => {
          // The one place an unexpected failure becomes a gRPC status.
          o.log('error', 'control', `${m} from ${scopeName(o.scope)} failed: ${messageOf(e)}`);
          callback({ code: grpc.status.INTERNAL, details: messageOf(e) });
        },
      );
    };
  }
  return impl;
}
