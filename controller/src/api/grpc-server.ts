/**
 * The gRPC server: FleetService, RolloutService and server reflection, over TLS (or plaintext on
 * loopback when the config says so). Every call of every service goes through one policy
 * (grpc-methods.ts): token, role, handler, mapped error, audit, latency.
 */
import { readFile } from 'node:fs/promises';
import { Server, ServerCredentials, type Metadata } from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import type { ApiPrincipal, ApiTokenTable } from '../auth/api-tokens.ts';
import { type FleetMethod, methodPolicy } from '../auth/core/roles.ts';
import { UnauthenticatedError } from '../auth/unauthenticated-error.ts';
import type { HostPort } from '../config/controller-config.ts';
import type { FleetMetrics } from '../metrics/fleet-metrics.ts';
import { FleetHandlers, type FleetServices } from './fleet-handlers.ts';
import { type CallPolicy, type RawRequest, type ServiceMethods, serviceImpl } from './grpc-methods.ts';
import { fleetServiceName, loadFleetProto, rolloutServiceName } from './proto.ts';
import { reflectionPackage } from './reflection.ts';
import { addRolloutService } from './rollout-grpc.ts';
import type { RolloutHandlers } from './rollout-handlers.ts';

export interface GrpcServerOptions {
  readonly listen: HostPort;
  readonly tls: { readonly certFile: string; readonly keyFile: string } | undefined;
  readonly tokens: ApiTokenTable;
  /** Where failures that are not the caller's fault are logged. */
  readonly log?: (line: string) => void;
  /** RolloutService (rollout.proto), served beside FleetService when given. */
  readonly rollouts?: RolloutHandlers;
}

/** A running API server. */
export interface GrpcApi {
  readonly port: number;
  stop(): Promise<void>;
}

export async function startGrpcServer(
  app: FleetServices & { readonly metrics: FleetMetrics },
  o: GrpcServerOptions,
): Promise<GrpcApi> {
  const proto = loadFleetProto();
  const handlers = new FleetHandlers(app);
  const server = new Server({ 'grpc.max_receive_message_length': 1024 * 1024 });
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

  const policy: CallPolicy = {
    authenticate,
    audit: app.audit,
    metrics: app.metrics,
    clock: app.clock,
    log,
  };
  const methods: ServiceMethods<FleetMethod> = {
    ApplyJob: { unary: (r, c) => handlers.ApplyJob(r, c) },
    DeleteJob: { unary: (r, c) => handlers.DeleteJob(r, c) },
    ListJobs: { unary: () => handlers.ListJobs() },
    GetJob: { unary: (r) => handlers.GetJob(r) },
    ListNodes: { unary: (r) => handlers.ListNodes(r) },
    DescribeNode: { unary: (r) => handlers.DescribeNode(r) },
    JobHealth: { unary: (r) => handlers.JobHealth(r) },
    WatchEvents: { stream: (r, c, send, signal) => handlers.WatchEvents(r, c, send, signal) },
    CreateEnrollmentToken: { unary: (r, c) => handlers.CreateEnrollmentToken(r, c) },
    RevokeNode: { unary: (r, c) => handlers.RevokeNode(r, c) },
    ListAuditEntries: { unary: (r) => handlers.ListAuditEntries(r) },
  };
  server.addService(proto.service, serviceImpl(policy, methodPolicy, methods, auditTarget));
  if (o.rollouts) addRolloutService(server, policy, o.rollouts);
  // Reflection serves the descriptors protoc makes (reflection.ts has why), for the services served.
  new ReflectionService(reflectionPackage(), {
    services: [fleetServiceName, ...(o.rollouts ? [rolloutServiceName] : [])],
  }).addToServer(server);

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
function auditTarget(method: FleetMethod, req: RawRequest): string {
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
