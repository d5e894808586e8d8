/**
 * RolloutService on the controller's gRPC server, under the same call policy as FleetService
 * (grpc-methods.ts): token, role (viewers read and watch; operators start and command), mapped
 * errors, an audit entry for every call, latency.
 */
import type { Server } from '@grpc/grpc-js';
import { type RolloutMethod, rolloutMethodPolicy } from '../auth/core/roles.ts';
import { type CallPolicy, type RawRequest, type ServiceMethods, serviceImpl } from './grpc-methods.ts';
import { loadRolloutProto } from './proto.ts';
import type { RolloutHandlers } from './rollout-handlers.ts';

export function addRolloutService(server: Server, policy: CallPolicy, h: RolloutHandlers): void {
  const methods: ServiceMethods<RolloutMethod> = {
    StartRollout: { unary: (r, c) => h.StartRollout(r, c) },
    GetRollout: { unary: (r, c) => h.GetRollout(r, c) },
    ListRollouts: { unary: (r) => h.ListRollouts(r) },
    PauseRollout: { unary: (r, c) => h.command('pause', r, c) },
    ResumeRollout: { unary: (r, c) => h.command('resume', r, c) },
    AbortRollout: { unary: (r, c) => h.command('abort', r, c) },
    RollbackRollout: { unary: (r, c) => h.command('rollback', r, c) },
    WatchRollout: { stream: (r, c, send, signal) => h.WatchRollout(r, c, send, signal) },
  };
  const target = (_m: RolloutMethod, req: RawRequest): string =>
    typeof req['rolloutId'] === 'string' ? req['rolloutId'].slice(0, 64) : '';
  server.addService(loadRolloutProto().service, serviceImpl(policy, rolloutMethodPolicy, methods, target));
}
