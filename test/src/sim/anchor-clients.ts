/**
 * The reconnect anchor (docs/engineering.md, "Benchmarks"): plain nats.js clients with the client's DEFAULT
 * reconnect options, each with its own connection and a subscription, as a naive agent would
 * have. Run beside the simulated agents against the same broker, so one broker restart shows
 * both reconnect patterns side by side.
 */
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';

export class AnchorClients {
  readonly conns: NatsConnection[] = [];

  /** Connects `n` clients named `anchor-<i>` (bounded concurrency). */
  async start(n: number, urls: readonly string[], creds: Uint8Array): Promise<void> {
    let next = 0;
    const worker = async (): Promise<void> => {
      for (;;) {
        const i = next++;
        if (i >= n) return;
        const nc = await connect({
          servers: [...urls],
          authenticator: credsAuthenticator(creds),
          name: `anchor-${i}`,
          // Everything about reconnecting left at the client's defaults.
        });
        nc.subscribe(`lf.anchor.${i}`, { callback: () => undefined });
        this.conns.push(nc);
      }
    };
    await Promise.all(Array.from({ length: 50 }, worker));
  }

  async stop(): Promise<void> {
    await Promise.allSettled(this.conns.map((c) => c.close()));
  }
}
