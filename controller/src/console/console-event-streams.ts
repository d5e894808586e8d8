/**
 * GET /events: server-sent events, a `change` with the topics of each batch from the live feed
 * (live-feed.ts), a keep-alive every 15 s, and `expired` when the session ends. At most
 * `maxStreams` are open (each is a socket and a timer).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PermissionDeniedError } from '@launchfleet/shared';
import type { Clock } from '@launchfleet/shared/clock';
import type { LiveFeed } from './live-feed.ts';
import { securityHeaders, sendFailure } from './console-http.ts';
import type { Signed } from './console-sessions.ts';

export class ConsoleEventStreams {
  readonly #feed: LiveFeed;
  readonly #clock: Clock;
  readonly #max: number;
  readonly #streams = new Set<ServerResponse>();

  constructor(o: { readonly feed: LiveFeed; readonly clock: Clock; readonly maxStreams: number }) {
    this.#feed = o.feed;
    this.#clock = o.clock;
    this.#max = o.maxStreams;
  }

  /** Ends every open stream (the server is stopping). */
  closeAll(): void {
    for (const s of this.#streams) s.end();
    this.#streams.clear();
  }

  /** Opens a stream; it ends when the session does. */
  open(req: IncomingMessage, res: ServerResponse, s: Signed): void {
    if (this.#streams.size >= this.#max) {
      sendFailure(
        res,
        undefined,
        new PermissionDeniedError('too many live pages are open on this controller; reload later'),
      );
      return;
    }
    res.writeHead(200, {
      ...securityHeaders,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    });
    // The browser reconnects by itself after 2 s (a controller restart); the page then refreshes.
    res.write(`retry: 2000\nevent: hello\ndata: {}\n\n`);
    this.#streams.add(res);
    const remove = this.#feed.addSink({
      send: (topics) => void res.write(`event: change\ndata: ${JSON.stringify(topics)}\n\n`),
    });
    const beat = setInterval(() => {
      if (this.#clock.wallMs() >= s.session.expiresAt) {
        res.write('event: expired\ndata: {}\n\n');
        res.end();
        return;
      }
      res.write(': keep-alive\n\n');
    }, 15_000);
    const done = () => {
      clearInterval(beat);
      remove();
      this.#streams.delete(res);
    };
    req.on('close', done);
    res.on('close', done);
  }
}
