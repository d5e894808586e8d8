/**
 * The CLI's RolloutService client: the same connection options and the same failure sentences
 * as ApiClient (api-client.ts), over rollout.proto.
 */
import type { Client, ClientReadableStream, Metadata, ServiceError } from '@grpc/grpc-js';
import { loadRolloutProto } from '../api/rollout-proto.ts';
import { ApiClient, type CliError, connectionOf, type GlobalOptions } from './api-client.ts';

type Obj = Record<string, unknown>;

export class RolloutClient {
  readonly #client: Client & Record<string, unknown>;
  readonly #md: Metadata;
  /** Used for its wording of failures only. */
  readonly #words: ApiClient;

  constructor(o: GlobalOptions) {
    this.#words = new ApiClient(o);
    const server = this.#words.server;
    const c = connectionOf(o, server);
    this.#md = c.metadata;
    const creds = c.credentials;
    const { Client: Ctor } = loadRolloutProto();
    this.#client = new Ctor(server, creds, {});
  }

  call(method: string, req: Obj, timeoutMs = 60_000): Promise<Obj> {
    const fn = this.#client[method] as (
      req: Obj,
      md: Metadata,
      opts: { deadline: Date },
      cb: (e: ServiceError | null, res?: Obj) => void,
    ) => void;
    return new Promise((resolve, reject) => {
      fn.call(this.#client, req, this.#md, { deadline: new Date(Date.now() + timeoutMs) }, (e, res) => {
        if (e) reject(this.#words.explain(e));
        else resolve(res ?? {});
      });
    });
  }

  stream(method: string, req: Obj): ClientReadableStream<Obj> {
    const fn = this.#client[method] as (req: Obj, md: Metadata) => ClientReadableStream<Obj>;
    return fn.call(this.#client, req, this.#md);
  }

  explain(e: ServiceError): CliError {
    return this.#words.explain(e);
  }

  close(): void {
    this.#client.close();
    this.#words.close();
  }
}
