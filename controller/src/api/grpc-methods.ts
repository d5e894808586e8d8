/**
 * One policy for every gRPC method the controller serves, whatever the service:
 *
 *   authenticate (Bearer token -> name, role) -> authorise (auth/core/roles.ts) ->
 *   handler -> map errors (status.ts, the one place) -> audit (when the method's rule says so,
 *   refused calls too) -> latency histogram
 *
 * A service gives its rule table, its handlers (unary or server stream) and how to name a call's
 * target before the handler knows better; `serviceImpl` returns the grpc-js implementation.
 */
import {
  status,
  type Metadata,
  type ServerUnaryCall,
  type ServerWritableStream,
  type UntypedServiceImplementation,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { PermissionDeniedError, messageOf, type Clock } from '@launchfleet/shared';
import type { ApiPrincipal } from '../auth/api-tokens.ts';
import { type MethodRule, atLeast } from '../auth/core/roles.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { FleetMetrics } from '../metrics/fleet-metrics.ts';
import type { CallContext } from './fleet-handlers.ts';
import { statusName, statusOf, toServiceError } from './status.ts';
import { writeWithBackPressure } from './stream-drain.ts';

/** What every call of every service needs from the server. */
export interface CallPolicy {
  /** The server's token check (throws UnauthenticatedError). */
  readonly authenticate: (md: Metadata) => ApiPrincipal;
  readonly audit: AuditLog;
  readonly metrics: FleetMetrics;
  readonly clock: Clock;
  /** Where failures that are not the caller's fault are logged. */
  readonly log: (line: string) => void;
}

/**
 * A unary method: the response, or a thrown shared error (mapped by status.ts). `Req` and `Res`
 * are the method's generated message types (fleet-messages.ts).
 */
export interface UnaryMethod<Req = never, Res extends object = object> {
  readonly unary: (req: Req, ctx: CallContext) => Promise<Res>;
}

/**
 * A server-stream method: sends until it returns (the stream ends OK) or throws (the stream ends
 * with the mapped status). `send` waits while the client's buffer is full; `signal` aborts when
 * the client cancels or goes away.
 */
export interface StreamMethod<Req = never, Msg extends object = object> {
  readonly stream: (
    req: Req,
    ctx: CallContext,
    send: (msg: Msg) => Promise<void>,
    signal: AbortSignal,
  ) => Promise<void>;
}

/** What the policy needs besides the caller: the bookkeeping of grpc-methods.ts. */
export type PolicyEffects = Omit<CallPolicy, 'authenticate'>;

/**
 * Runs one call under the policy: `authenticate` (throws UnauthenticatedError) -> role check
 * against `rule` (roles.ts) -> `body` -> latency histogram -> audit entry when the rule says so
 * (refused calls too). Resolves to the failure, if any; never rejects. The gRPC services and the
 * web console (console/console-actions.ts) both call it, so a change is judged and recorded the
 * same way whichever door it came through.
 */
export async function runUnderPolicy(
  p: PolicyEffects,
  method: string,
  rule: MethodRule,
  authenticate: () => ApiPrincipal,
  target: string,
  body: (ctx: CallContext) => Promise<void>,
): Promise<unknown> {
  const t0 = performance.now();
  let principal: ApiPrincipal | undefined;
  const ctx: CallContext = { who: 'anonymous', target };
  let failure: unknown;
  try {
    principal = authenticate();
    ctx.who = principal.name;
    if (!atLeast(principal.role, rule.role))
      throw new PermissionDeniedError(
        `${method} needs the ${rule.role} role; token ${principal.name} has ${principal.role}`,
      );
    await body(ctx);
  } catch (e) {
    failure = e;
    if (statusOf(e) === status.INTERNAL) p.log(`controller: ${method} failed: ${messageOf(e)}`);
  }
  const code = failure === undefined ? status.OK : statusOf(failure);
  p.metrics.apiSeconds.observe({ method, code: statusName(code) }, (performance.now() - t0) / 1000);
  if (rule.audited)
    await p.audit
      .record({
        at: p.clock.wallMs(),
        who: ctx.who,
        role: principal?.role ?? '',
        method,
        target: ctx.target,
        outcome: statusName(code),
        detail: failure === undefined ? '' : toServiceError(failure, rule.reads).details,
      })
      .catch((e: unknown) => p.log(`controller: audit entry for ${method} not written: ${messageOf(e)}`));
  return failure;
}

/** A service's methods by name, each with its own message types. */
export type ServiceMethods<M extends string> = Readonly<Record<M, UnaryMethod | StreamMethod>>;

/** What the call policy needs of a request before the handler sees it (its audit target). */
export type RawRequest = Readonly<Record<string, unknown>>;

export function serviceImpl<M extends string>(
  p: CallPolicy,
  rules: Readonly<Record<M, MethodRule>>,
  methods: ServiceMethods<M>,
  targetOf: (method: M, req: RawRequest) => string,
): UntypedServiceImplementation {
  /** Runs one call's policy and bookkeeping around `body`; resolves to the failure, if any. */
  const run = (
    method: M,
    md: Metadata,
    req: RawRequest,
    body: (ctx: CallContext) => Promise<void>,
  ): Promise<unknown> =>
    runUnderPolicy(p, method, rules[method], () => p.authenticate(md), targetOf(method, req), body);

  const impl: UntypedServiceImplementation = {};
  for (const method of Object.keys(rules) as M[]) {
    const m = methods[method];
    if ('stream' in m) {
      impl[method] = (call: ServerWritableStream<RawRequest, object>) => {
        const ac = new AbortController();
        call.on('cancelled', () => ac.abort());
        call.on('close', () => ac.abort());
        // proto-loader gives the request the generated `__Output` shape the handler declares.
        const req = call.request as never;
        void run(method, call.metadata, call.request, (ctx) =>
          m.stream(req, ctx, (msg) => writeWithBackPressure(call, msg, ac.signal), ac.signal),
        ).then((failure) => {
          if (failure === undefined) call.end();
          else call.destroy(toServiceError(failure, rules[method].reads));
        });
      };
    } else {
      impl[method] = (call: ServerUnaryCall<RawRequest, object>, callback: sendUnaryData<object>) => {
        let result: object = {};
        void run(method, call.metadata, call.request, async (ctx) => {
          result = await m.unary(call.request as never, ctx);
        }).then((failure) => {
          if (failure === undefined) callback(null, result);
          else callback(toServiceError(failure, rules[method].reads));
        });
      };
    }
  }
  return impl;
}
