/**
 * The bare posix_spawn loop (test/bench/native/bare-spawn.c), compiled with the system's cc into a
 * temporary directory at the start of a run. The binary is never kept in the repository.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** test/bench/native/bare-spawn.c, from test/dist/bench/ (compiled) or test/src/bench/. */
export const bareSpawnSource: string = fileURLToPath(
  new URL('../../bench/native/bare-spawn.c', import.meta.url),
);

/** A compiled bare-spawn binary; `dispose` removes its directory. */
export interface BareSpawn {
  readonly path: string;
  /** Spawns `argv` `count` times in a row; per spawn, ms to exec and ms to reaped. */
  run(count: number, argv: readonly string[]): Promise<{ execMs: number[]; reapedMs: number[] }>;
  dispose(): void;
}

export function buildBareSpawn(): BareSpawn {
  const dir = mkdtempSync(join(tmpdir(), 'lf-bench-native-'));
  const path = join(dir, 'bare-spawn');
  try {
    execFileSync('cc', ['-O2', '-Wall', '-Wextra', '-o', path, bareSpawnSource], { stdio: 'pipe' });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    const e = err as { stderr?: Buffer; message: string };
    throw new Error(`cc failed on ${bareSpawnSource}: ${e.stderr?.toString() ?? e.message}`, { cause: err });
  }
  return {
    path,
    run: (count, argv) =>
      new Promise((resolve, reject) => {
        execFile(
          path,
          [String(count), ...argv],
          { maxBuffer: 64 * count + 4096, timeout: 60_000 + count * 50 },
          (err, stdout, stderr) => {
            if (err) {
              reject(new Error(`bare-spawn failed: ${stderr || err.message}`));
              return;
            }
            const execMs: number[] = [];
            const reapedMs: number[] = [];
            for (const line of stdout.split('\n')) {
              const m = /^(\d+) (\d+)$/.exec(line);
              if (!m) continue;
              execMs.push(Number(m[1]) / 1e6);
              reapedMs.push(Number(m[2]) / 1e6);
            }
            if (execMs.length !== count)
              reject(new Error(`bare-spawn printed ${execMs.length} timings, expected ${count}`));
            else resolve({ execMs, reapedMs });
          },
        );
      }),
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
