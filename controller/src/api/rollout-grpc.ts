/**
 * Registers RolloutService on the controller's gRPC server, with the same policy as the
 * FleetService wrapper (grpc-server.ts): authenticate the Bearer token, check the role
 * (viewers read and watch; operators start and command), run, map errors (status.ts, the one
 * place), audit every call (reads too: a rollout is a change in progress), observe latency.
 */
import {
  status,
  type Metadata,
  type Server,
  type ServerUnaryCall,
  type ServerWritableStream,
  type UntypedServiceImplementation,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { PermissionDeniedError, messageOf, type Clock } from '@launchfleet/shared';
import type { ApiPrincipal } from '../auth/api-tokens.ts';
import { type Role, roles } from '../auth/core/roles.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { FleetMetrics } from '../metrics/fleet-metrics.ts';
import type { CallContext } from './fleet-handlers.ts';
import type { RolloutHandlers } from './rollout-handlers.ts';
import { loadRolloutProto } from './rollout-proto.ts';
import { statusName, statusOf, toServiceError } from './status.ts';
import { writeWithBackPressure } from './stream-drain.ts';

/** The RolloutService methods and the least role each needs. */
export const rolloutMethodPolicy = {
  StartRollout: 'operator',
  GetRollout: 'viewer',
  ListRollouts: 'viewer',
  PauseRollout: 'operator',
  ResumeRollout: 'operator',
  AbortRollout: 'operator',
  RollbackRollout: 'operator',
  WatchRollout: 'viewer',
} as const satisfies Record<string, Role>;

export type RolloutMethod = keyof typeof rolloutMethodPolicy;

export function rolloutAllows(role: Role, method: RolloutMethod): boolean {
  return roles.indexOf(role) >= roles.indexOf(rolloutMethodPolicy[method]);
}

type Obj = Record<string, unknown>;

export interface RolloutGrpcDeps {
  readonly handlers: RolloutHandlers;
  /** The server's token check (throws UnauthenticatedError). */
  readonly authenticate: (md: Metadata) => ApiPrincipal;
  readonly audit: AuditLog;
  readonly metrics: FleetMetrics;
  readonly clock: Clock;
  readonly log: (line: string) => void;
}

export function addRolloutService(server: Server, d: RolloutGrpcDeps): void {
  const run = async (
    method: RolloutMethod,
    md: Metadata,
    body: (ctx: CallContext) => Promise<void>,
    req: Obj,
  ): Promise<unknown> => {
    const t0 = performance.now();
    let principal: ApiPrincipal | undefined;
    const ctx: CallContext = {
      who: 'anonymous',
      target: typeof req['rolloutId'] === 'string' ? req['rolloutId'].slice(0, 64) : '',
    };
    let failure: unknown;
    try {
      principal = d.authenticate(md);
      ctx.who = principal.name;
      if (!rolloutAllows(principal.role, method))
        throw new PermissionDeniedError(
          `${method} needs the ${rolloutMethodPolicy[method]} role; token ${principal.name} has ${principal.role}`,
        );
      await body(ctx);
    } catch (e) {
      failure = e;
      if (statusOf(e) === status.INTERNAL) d.log(`controller: ${method} failed: ${messageOf(e)}`);
    }
    const code = failure === undefined ? status.OK : statusOf(failure);
    d.metrics.apiSeconds.observe({ method, code: statusName(code) }, (performance.now() - t0) / 1000);
    await d.audit
      .record({
        at: d.clock.wallMs(),
        who: ctx.who,
        role: principal?.role ?? '',
        method,
        target: ctx.target,
        outcome: statusName(code),
        detail: failure === undefined ? '' : toServiceError(failure).details,
      })
      .catch((e: unknown) => d.log(`controller: audit entry for ${method} not written: ${messageOf(e)}`));
    return failure;
  };
  const h = d.handlers;
  const unary: Record<
    Exclude<RolloutMethod, 'WatchRollout'>,
    (req: Obj, ctx: CallContext) => Promise<Obj>
  > = {
    StartRollout: (r, c) => h.StartRollout(r, c),
    GetRollout: (r, c) => h.GetRollout(r, c),
    ListRollouts: (r) => h.ListRollouts(r),
    PauseRollout: (r, c) => h.command('pause', r, c),
    ResumeRollout: (r, c) => h.command('resume', r, c),
    AbortRollout: (r, c) => h.command('abort', r, c),
    RollbackRollout: (r, c) => h.command('rollback', r, c),
  };
  const impl: UntypedServiceImplementation = {};
  for (const method of Object.keys(rolloutMethodPolicy) as RolloutMethod[]) {
    if (method === 'WatchRollout') {
      impl[method] = (call: ServerWritableStream<Obj, Obj>) => {
        const ac = new AbortController();
        call.on('cancelled', () => ac.abort());
        call.on('close', () => ac.abort());
        void run(
          method,
          call.metadata,
          (ctx) =>
            h.WatchRollout(call.request, ctx, (r) => writeWithBackPressure(call, r, ac.signal), ac.signal),
          call.request,
        ).then((failure) => {
          if (failure === undefined) call.end();
          else call.destroy(toServiceError(failure));
        });
      };
      continue;
    }
    impl[method] = (call: ServerUnaryCall<Obj, Obj>, callback: sendUnaryData<Obj>) => {
      let result: Obj = {};
      const fn = unary[method];
      void run(
        method,
        call.metadata,
        async (ctx) => {
          result = await fn(call.request, ctx);
        },
        call.request,
      ).then((failure) => {
        if (failure === undefined) callback(null, result);
        else callback(toServiceError(failure));
      });
    };
  }
  server.addService(loadRolloutProto().service, impl);
}
