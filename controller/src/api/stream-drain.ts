/**
 * Back-pressure for server streams: a slow client holds the stream, not the controller's memory.
 */
import type { ServerWritableStream } from '@grpc/grpc-js';

/**
 * Writes `msg`; when the stream's buffer is full, resolves once it drains or `signal` aborts.
 * Both listeners are removed whichever comes first, so a long stream does not collect them.
 */
export function writeWithBackPressure<Req, Res>(
  call: ServerWritableStream<Req, Res>,
  msg: Res,
  signal: AbortSignal,
): Promise<void> {
  if (call.write(msg) || signal.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = (): void => {
      call.off('drain', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    call.once('drain', done);
    signal.addEventListener('abort', done, { once: true });
  });
}
