/**
 * The CLI's connection to the controller: one FleetService client from the same proto file
 * the server loads, with the global options (`--server`, `--token`, `--ca`, `--insecure`,
 * their environment variables), and failures turned into sentences a person can act on.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import {
  type ChannelCredentials,
  type Client,
  credentials,
  Metadata,
  status,
  type ServiceError,
  type ClientReadableStream,
} from '@grpc/grpc-js';
import { type ServiceProto, loadFleetProto } from '../api/proto.ts';
import { brokerUnavailableKey } from '../api/status.ts';
import type { FleetServiceDefinition } from '../gen/launchfleet/controller/v1/FleetService.ts';
import type { RolloutServiceDefinition } from '../gen/launchfleet/controller/v1/RolloutService.ts';

/** Global options every API command understands. */
export interface GlobalOptions {
  readonly server?: string;
  readonly token?: string;
  readonly ca?: string;
  readonly insecure?: boolean;
  readonly json?: boolean;
}

/**
 * The controller's methods with their messages, as generated from the .proto files
 * (scripts/gen-proto-types.mjs): what a call may send, and what it receives decoded by
 * proto-loader with the server's options (api/proto.ts: int64 as numbers, enums as names,
 * defaults filled in). The CLI reads answers through these types, not as untyped records.
 */
type Known<T> = { [K in keyof T as string extends K ? never : K]: T[K] }; // without the index signature
type Methods = Known<FleetServiceDefinition> & Known<RolloutServiceDefinition>;
export type ApiMethod = Extract<keyof Methods, string>;
/** What `method` may be sent (every field optional). */
export type RequestOf<M extends ApiMethod> = Parameters<Methods[M]['requestSerialize']>[0];
/** What `method` answers, decoded (every field present, proto3 defaults for the unset). */
export type ResponseOf<M extends ApiMethod> = ReturnType<Methods[M]['responseDeserialize']>;

/** A failure the CLI prints as one line and exits 1 with. */
export class CliError extends Error {
  override readonly name = 'CliError';
}

/** The controller address from `--server`, LAUNCHFLEET_SERVER, or the default. */
export function serverOf(o: GlobalOptions): string {
  return o.server ?? process.env['LAUNCHFLEET_SERVER'] ?? '127.0.0.1:7400';
}

/**
 * Channel credentials and call metadata from the global options (`--token`, `--ca`,
 * `--insecure` and their environment variables): one place for every API client.
 */
export function connectionOf(
  o: GlobalOptions,
  server: string,
): { credentials: ChannelCredentials; metadata: Metadata } {
  const metadata = new Metadata();
  const token = o.token ?? process.env['LAUNCHFLEET_TOKEN'];
  if (token) metadata.set('authorization', `Bearer ${token.trim()}`);
  const ca = o.ca ?? process.env['LAUNCHFLEET_CA'];
  const insecure = o.insecure === true || process.env['LAUNCHFLEET_INSECURE'] === '1';
  if (insecure) return { credentials: credentials.createInsecure(), metadata };
  let caPem: Buffer | null = null;
  if (ca) {
    try {
      caPem = readFileSync(ca);
    } catch (e) {
      throw new CliError(`cannot read the CA file ${ca}: ${(e as Error).message}`);
    }
  }
  // grpc-js passes an IP address target as the TLS server name, which Node flags with a
  // deprecation warning (DEP0123) on every run; the certificate is still checked against the
  // IP (its subjectAltName). A CLI's stderr is for the user, so hide that notice.
  if (isIP(server.replace(/^\[?(.*?)\]?:\d+$/, '$1')) !== 0) process.noDeprecation = true;
  return { credentials: credentials.createSsl(caPem), metadata };
}

/** The API's target message from the CLI's --nodes / selector / --all (exactly one was given). */
export function targetOf(
  nodes: string | undefined,
  selector: string | undefined,
): { nodes: { names: string[] } } | { selector: string } | { all: true } {
  if (nodes !== undefined)
    return {
      nodes: {
        names: nodes
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean),
      },
    };
  return selector !== undefined ? { selector } : { all: true };
}

export class ApiClient {
  readonly server: string;
  readonly #client: Client & Record<string, unknown>;
  readonly #md: Metadata;

  /** A client of FleetService, or of another controller service (`loadRolloutProto()`). */
  constructor(o: GlobalOptions, proto: ServiceProto = loadFleetProto()) {
    this.server = serverOf(o);
    const c = connectionOf(o, this.server);
    this.#md = c.metadata;
    const creds = c.credentials;
    const { Client } = proto;
    this.#client = new Client(this.server, creds, {
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
    });
  }

  /** Calls a unary method; rejects with a CliError worded for people. */
  call<M extends ApiMethod>(method: M, req: RequestOf<M>, timeoutMs = 60_000): Promise<ResponseOf<M>> {
    const fn = this.#client[method] as (
      req: RequestOf<M>,
      md: Metadata,
      opts: { deadline: Date },
      cb: (e: ServiceError | null, res?: ResponseOf<M>) => void,
    ) => void;
    return new Promise((resolve, reject) => {
      fn.call(this.#client, req, this.#md, { deadline: new Date(Date.now() + timeoutMs) }, (e, res) => {
        if (e) reject(this.explain(e));
        else if (res === undefined) reject(new CliError(`${method}: the controller sent no answer`));
        else resolve(res);
      });
    });
  }

  /** Opens a server stream. */
  stream<M extends ApiMethod>(method: M, req: RequestOf<M>): ClientReadableStream<ResponseOf<M>> {
    const fn = this.#client[method] as (
      req: RequestOf<M>,
      md: Metadata,
    ) => ClientReadableStream<ResponseOf<M>>;
    return fn.call(this.#client, req, this.#md);
  }

  close(): void {
    this.#client.close();
  }

  /** A gRPC failure as one helpful sentence. */
  explain(e: ServiceError): CliError {
    const d = e.details || e.message;
    switch (e.code) {
      case status.UNAVAILABLE: {
        // The controller answered, but its broker did not (controller/src/api/status.ts marks it).
        if (e.metadata?.get(brokerUnavailableKey)[0] !== undefined)
          return new CliError(`UNAVAILABLE: the controller at ${this.server} answered: ${d}`);
        const why = /ECONNREFUSED|connection refused/i.test(d)
          ? 'connection refused'
          : /ENOTFOUND|getaddrinfo/i.test(d)
            ? 'unknown host'
            : /certificate|SSL|TLS|handshake/i.test(d)
              ? `TLS failed (${d}); is --ca the controller's CA, or does the controller run without TLS (--insecure)?`
              : d;
        return new CliError(`cannot reach controller at ${this.server}: ${why}`);
      }
      case status.DEADLINE_EXCEEDED:
        return new CliError(`the controller at ${this.server} did not answer in time`);
      case status.UNAUTHENTICATED:
        return new CliError(
          `the controller refused the request: ${d} (pass --token or set LAUNCHFLEET_TOKEN)`,
        );
      case status.PERMISSION_DENIED:
        return new CliError(`permission denied: ${d}`);
      case status.NOT_FOUND:
        return new CliError(d);
      case status.INVALID_ARGUMENT:
        return new CliError(`invalid request: ${d}`);
      case status.ABORTED:
        return new CliError(`${d} (someone else changed it at the same time; run the command again)`);
      case status.OK:
      case status.CANCELLED:
      case status.UNKNOWN:
      case status.ALREADY_EXISTS:
      case status.RESOURCE_EXHAUSTED:
      case status.FAILED_PRECONDITION:
      case status.OUT_OF_RANGE:
      case status.UNIMPLEMENTED:
      case status.INTERNAL:
      case status.DATA_LOSS:
      default:
        return new CliError(`${status[e.code] ?? e.code}: ${d}`);
    }
  }
}
