/**
 * The single-file agent for tests: `scripts/build-agent.sh --node <this Node>` into
 * build/test-agent/node-v<ABI>-<platform>-<arch>/, rebuilt only when the compiled agent or its
 * native pieces are newer than the binary. It embeds the Node that runs the tests, so the
 * matrix's Node 20 leg exercises a Node 20 binary and its Node 24 leg the Node 24 binary that
 * ships (scripts/build-agent.sh's default).
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from './paths.ts';

const run = promisify(execFile);
const abi = `node-v${process.versions.modules}-${process.platform}-${process.arch}`;

/** The newest mtime (ms) of the files below `dir`. */
function newest(dir: string): number {
  if (!existsSync(dir)) return 0;
  let max = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    max = Math.max(max, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return max;
}

/** Builds (when stale) and returns the directory holding `launchfleet-agent` and `lfctl`. */
export async function builtAgent(): Promise<string> {
  const out = join(repoRoot, 'build', 'test-agent', abi);
  const bin = join(out, 'launchfleet-agent');
  const inputs = Math.max(
    newest(join(repoRoot, 'node-agent', 'dist')),
    newest(join(repoRoot, 'shared', 'dist')),
    newest(join(repoRoot, 'node-agent', 'native', 'build-abi', abi)),
    statSync(join(repoRoot, 'scripts', 'build-agent.sh')).mtimeMs,
    statSync(join(repoRoot, 'node-agent', 'scripts', 'bundle-agent.mjs')).mtimeMs,
  );
  if (!existsSync(bin) || statSync(bin).mtimeMs < inputs) {
    await run(
      'bash',
      [join(repoRoot, 'scripts', 'build-agent.sh'), '--node', process.execPath, '--out', out],
      {
        cwd: repoRoot,
        maxBuffer: 16 * 1024 * 1024,
      },
    );
  }
  return out;
}
