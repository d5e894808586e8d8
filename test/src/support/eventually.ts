/**
 * Retries `fn` every `intervalMs` until it resolves, or rethrows its last error after
 * `timeoutMs`: for conditions that become true by themselves (a leader election, a watch
 * catching up), where there is no event to await.
 */
export async function eventually<T>(fn: () => Promise<T>, timeoutMs: number, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }
}
