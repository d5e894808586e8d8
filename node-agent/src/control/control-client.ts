/**
 * A promise-based client of the control API over one Unix socket (lfctl's side).
 */
import * as grpc from '@grpc/grpc-js';
import { controlService } from './proto.ts';
import type { ControlMethod, ControlMethods } from './wire.ts';

/** The call could not be made or the agent answered with a gRPC error (not a launchd outcome). */
export class ControlCallError extends Error {
  readonly grpcCode: number;
  constructor(message: string, grpcCode: number) {
    super(message);
    this.name = 'ControlCallError';
    this.grpcCode = grpcCode;
  }
}

export class ControlClient {
  private readonly client: grpc.Client;
  readonly socketPath: string;

  constructor(socketPath: string) {
    this.socketPath = socketPath;
    const Ctor = controlService();
    this.client = new Ctor(`unix:${socketPath}`, grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': 16 * 1024 * 1024,
    });
  }

  /**
   * One RPC. `deadlineMs` bounds waiting for the agent to answer (undefined: no deadline, for
   * verbs that wait for a job to exit, such as bootout --wait and unload).
   */
  call<M extends ControlMethod>(
    method: M,
    req: ControlMethods[M][0],
    deadlineMs?: number,
  ): Promise<ControlMethods[M][1]> {
    const fn = (this.client as unknown as Record<string, unknown>)[method] as (
      this: grpc.Client,
      req: unknown,
      md: grpc.Metadata,
      opts: grpc.CallOptions,
      cb: (err: grpc.ServiceError | null, reply: ControlMethods[M][1]) => void,
    ) => void;
    const opts: grpc.CallOptions = deadlineMs !== undefined ? { deadline: Date.now() + deadlineMs } : {};
    return new Promise((resolve, reject) => {
      fn.call(this.client, req, new grpc.Metadata(), opts, (err, reply) => {
        if (err) reject(new ControlCallError(err.details || err.message, err.code));
        else resolve(reply);
      });
    });
  }

  close(): void {
    this.client.close();
  }
}
