/**
 * The gRPC server: FleetService plus server reflection, over TLS (or plaintext on loopback when
 * the config says so). Every call goes through one wrapper:
 *
 *   authenticate (Bearer token -> name, role) -> authorise (auth/core/roles.ts) ->
 *   handler -> map errors (status.ts) -> audit (changing methods, refused ones too) -> metrics
 */
import { readFile } from 'node:fs/promises';
import {
  Server,
  ServerCredentials,
  status,
  type ServerUnaryCall,
  type ServerWritableStream,
  type UntypedServiceImplementation,
  type sendUnaryData,
  type Metadata,
} from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { PermissionDeniedError, messageOf } from '@launchfleet/shared';
import type { ApiPrincipal, ApiTokenTable } from '../auth/api-tokens.ts';
import { type FleetMethod, allows, methodPolicy } from '../auth/core/roles.ts';
import { UnauthenticatedError } from '../auth/unauthenticated-error.ts';
import type { HostPort } from '../config/controller-config.ts';
import type { CallContext, FleetApp } from './fleet-handlers.ts';
import { FleetHandlers } from './fleet-handlers.ts';
import { loadFleetProto } from './fleet-proto.ts';
import { statusName, statusOf, toServiceError } from './status.ts';
import { writeWithBackPressure } from './stream-drain.ts';
import { addRolloutService } from './rollout-grpc.ts';
import type { RolloutHandlers } from './rollout-handlers.ts';
import { loadRolloutProto } from './rollout-proto.ts';

export interface GrpcServerOptions {
  readonly listen: HostPort;
  readonly tls: { readonly certFile: string; readonly keyFile: string } | undefined;
  readonly tokens: ApiTokenTable;
  /** Where failures that are not the caller's fault are logged. */
  readonly log?: (line: string) => void;
  /** RolloutService (rollout.proto), served beside FleetService when given. */
  readonly rollouts?: RolloutHandlers;
}

type Obj = Record<string, unknown>;

/** A running API server. */
export interface GrpcApi {
  readonly port: number;
  stop(): Promise<void>;
}

export async function startGrpcServer(app: FleetApp, o: GrpcServerOptions): Promise<GrpcApi> {
  const proto = loadFleetProto();
  const handlers = new FleetHandlers(app);
  const server = new Server({ 'grpc.max_receive_message_length': 1024 * 1024 });
  const impl: UntypedServiceImplementation = {};
  const log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));

  const authenticate = (md: Metadata): ApiPrincipal => {
    const values = md.get('authorization');
    const h = typeof values[0] === 'string' ? values[0] : '';
    if (h === '') throw new UnauthenticatedError('no API token: send "authorization: Bearer <token>"');
    const m = /^Bearer\s+(\S+)$/i.exec(h);
    const p = m?.[1] ? o.tokens.lookup(m[1]) : undefined;
    if (!p) throw new UnauthenticatedError('unknown API token');
    return p;
  };

  /** Runs one call's policy and bookkeeping around `body`. */
  const run = async (
    method: FleetMethod,
    md: Metadata,
    req: Obj,
    body: (ctx: CallContext) => Promise<void>,
  ): Promise<unknown> => {
    const t0 = performance.now();
    let principal: ApiPrincipal | undefined;
    const ctx: CallContext = { who: 'anonymous', target: auditTarget(method, req) };
    let failure: unknown;
    try {
      principal = authenticate(md);
      ctx.who = principal.name;
      if (!allows(principal.role, method))
        throw new PermissionDeniedError(
          `${method} needs the ${methodPolicy[method].role} role; token ${principal.name} has ${principal.role}`,
        );
      await body(ctx);
    } catch (e) {
      failure = e;
      if (statusOf(e) === status.INTERNAL) log(`controller: ${method} failed: ${messageOf(e)}`);
    }
    const code = failure === undefined ? status.OK : statusOf(failure);
    app.metrics.apiSeconds.observe({ method, code: statusName(code) }, (performance.now() - t0) / 1000);
    if (methodPolicy[method].audited) {
      await app.audit
        .record({
          at: app.clock.wallMs(),
          who: ctx.who,
          role: principal?.role ?? '',
          method,
          target: ctx.target,
          outcome: statusName(code),
          detail: failure === undefined ? '' : toServiceError(failure).details,
        })
        .catch((e: unknown) => log(`controller: audit entry for ${method} not written: ${messageOf(e)}`));
    }
    return failure;
  };

  const unary: Record<Exclude<FleetMethod, 'WatchEvents'>, (req: Obj, ctx: CallContext) => Promise<Obj>> = {
    ApplyJob: (r, c) => handlers.ApplyJob(r, c),
    DeleteJob: (r, c) => handlers.DeleteJob(r, c),
    ListJobs: () => handlers.ListJobs(),
    GetJob: (r) => handlers.GetJob(r),
    ListNodes: (r) => handlers.ListNodes(r),
    DescribeNode: (r) => handlers.DescribeNode(r),
    JobHealth: (r) => handlers.JobHealth(r),
    CreateEnrollmentToken: (r, c) => handlers.CreateEnrollmentToken(r, c),
    RevokeNode: (r, c) => handlers.RevokeNode(r, c),
    ListAuditEntries: (r) => handlers.ListAuditEntries(r),
  };
  for (const method of Object.keys(methodPolicy) as FleetMethod[]) {
    if (method === 'WatchEvents') {
      impl[method] = (call: ServerWritableStream<Obj, Obj>) => {
        const ac = new AbortController();
        call.on('cancelled', () => ac.abort());
        call.on('close', () => ac.abort());
        void run(method, call.metadata, call.request, (ctx) =>
          handlers.WatchEvents(
            call.request,
            ctx,
            (ev) => writeWithBackPressure(call, ev, ac.signal),
            ac.signal,
          ),
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
      void run(method, call.metadata, call.request, async (ctx) => {
        result = await fn(call.request, ctx);
      }).then((failure) => {
        if (failure === undefined) callback(null, result);
        else callback(toServiceError(failure));
      });
    };
  }
  server.addService(proto.service, impl);
  if (o.rollouts)
    addRolloutService(server, {
      handlers: o.rollouts,
      authenticate,
      audit: app.audit,
      metrics: app.metrics,
      clock: app.clock,
      log,
    });
  new ReflectionService(
    o.rollouts
      ? { ...proto.packageDefinition, ...loadRolloutProto().packageDefinition }
      : proto.packageDefinition,
  ).addToServer(server);

  const creds = o.tls
    ? ServerCredentials.createSsl(null, [
        { cert_chain: await readFile(o.tls.certFile), private_key: await readFile(o.tls.keyFile) },
      ])
    : ServerCredentials.createInsecure();
  const host = o.listen.host.includes(':') ? `[${o.listen.host}]` : o.listen.host;
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${o.listen.port}`, creds, (e, p) => (e ? reject(e) : resolve(p))),
  );
  return {
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2000);
        server.tryShutdown(() => {
          clearTimeout(t);
          resolve();
        });
      }),
  };
}

/** What a call is about before the handler knows better (denied calls are audited with it). */
function auditTarget(method: FleetMethod, req: Obj): string {
  const s = (k: string, max = 255) => (typeof req[k] === 'string' ? req[k].slice(0, max) : '');
  switch (method) {
    case 'ApplyJob': {
      const m = /<key>\s*Label\s*<\/key>\s*<string>([^<]{1,255})<\/string>/.exec(s('plist', 64 * 1024));
      return m?.[1] ?? '';
    }
    case 'DeleteJob':
      return s('label');
    case 'RevokeNode':
      return s('nodeId');
    case 'ListJobs':
    case 'GetJob':
    case 'ListNodes':
    case 'DescribeNode':
    case 'JobHealth':
    case 'WatchEvents':
    case 'CreateEnrollmentToken':
    case 'ListAuditEntries':
      return '';
    default: {
      const never: never = method;
      return never;
    }
  }
}
