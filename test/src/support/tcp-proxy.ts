/**
 * A loopback TCP proxy in front of a nats-server, so a test can cut one client off the broker
 * (a partition, as the client sees it: its connection drops and new ones are refused) while
 * other clients keep using the broker directly.
 */
import { type Server, type Socket, connect, createServer } from 'node:net';
import { freePort } from './nats-server.ts';

export interface TcpProxy {
  readonly port: number;
  readonly url: string;
  /** Drops every connection and refuses new ones. */
  cut(): Promise<void>;
  /** Accepts connections again (same port). */
  heal(): Promise<void>;
  close(): Promise<void>;
  /**
   * While on, client data that holds a JetStream API request (`$JS.API`) is dropped: the broker
   * looks alive (connect, ping, core messages) but never answers a JetStream call.
   */
  stallJetStream(on: boolean): void;
  /**
   * A link that dies silently: while on, nothing passes in either direction and no connection is
   * closed (no FIN, no RST), as when a route or a NAT entry vanishes. New connections are accepted
   * and get nothing either. `silence(false)` ends it the way such an outage ends: the connections
   * of the silent period are gone for good (destroyed), new ones work.
   */
  silence(on: boolean): void;
  /**
   * A lost ack: the next client data that contains `match` (a subject) is passed to the broker,
   * and then the link goes silent as with `silence(true)`, so the broker's answer never arrives.
   */
  silenceAfter(match: string): void;
  /**
   * Holds everything the broker sends back for `ms` before passing it on (0: none), in order:
   * a slow link, so a client's request is still on its way while other things happen.
   */
  delayReplies(ms: number): void;
  /** Client connections open through the proxy now. */
  openConnections(): number;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const port = await freePort();
  const sockets = new Set<Socket>();
  const clients = new Set<Socket>();
  let server: Server | undefined;
  let stallJs = false;
  let silent = false;
  let silenceAfter: string | undefined;
  let replyDelayMs = 0;
  /** Sockets that lived through a silent period: dropped when it ends. */
  const silenced = new Set<Socket>();
  const listen = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const s = createServer((client) => {
        const upstream = connect(targetPort, '127.0.0.1');
        sockets.add(client);
        sockets.add(upstream);
        clients.add(client);
        const drop = (): void => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
          clients.delete(client);
        };
        client.on('error', drop).on('close', drop);
        upstream.on('error', drop).on('close', drop);
        if (silent) silenced.add(client).add(upstream);
        client.on('data', (chunk: Buffer) => {
          if (silent) return;
          if (stallJs && chunk.includes('$JS.API')) return;
          upstream.write(chunk);
          if (silenceAfter !== undefined && chunk.includes(silenceAfter)) {
            silenceAfter = undefined;
            silent = true;
            for (const sock of sockets) silenced.add(sock);
          }
        });
        // Delayed chunks keep their order: each is due no earlier than the one before it.
        let lastDue = 0;
        upstream.on('data', (chunk: Buffer) => {
          if (silent) return;
          const now = Date.now();
          const due = Math.max(now + replyDelayMs, lastDue);
          lastDue = due;
          if (due <= now) client.write(chunk);
          else
            setTimeout(() => {
              if (!silent && !client.destroyed) client.write(chunk);
            }, due - now);
        });
      });
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        server = s;
        resolve();
      });
    });
  const cut = async (): Promise<void> => {
    const s = server;
    server = undefined;
    for (const sock of sockets) sock.destroy();
    sockets.clear();
    if (s) await new Promise<void>((r) => s.close(() => r()));
  };
  await listen();
  return {
    port,
    url: `nats://127.0.0.1:${port}`,
    cut,
    heal: async () => {
      if (!server) await listen();
    },
    close: cut,
    stallJetStream: (on) => {
      stallJs = on;
    },
    silence: (on) => {
      if (on) {
        silent = true;
        for (const sock of sockets) silenced.add(sock);
        return;
      }
      silent = false;
      for (const sock of silenced) sock.destroy();
      silenced.clear();
    },
    silenceAfter: (match) => {
      silenceAfter = match;
    },
    delayReplies: (ms) => {
      replyDelayMs = Math.max(0, ms);
    },
    openConnections: () => clients.size,
  };
}
