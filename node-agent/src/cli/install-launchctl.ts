/**
 * `lfctl install-launchctl [--dir DIR] [--remove]`: makes `launchctl` on a Linux machine this
 * agent's lfctl, for scripts and configuration-management modules that call launchctl by name
 * (Ansible's community.general.launchd, Salt's mac_service). It writes one small script,
 * DIR/launchctl (DIR defaults to /usr/local/bin), that runs lfctl with the absolute path of the
 * Node that ran this command (cron, launchd and configuration tools often run with a PATH that
 * has no `node`) and tells it its name; lfctl called as launchctl chooses its socket from the
 * caller's uid alone (context.ts `launchctlSocket`). A symlink named launchctl to
 * node-agent/bin/lfctl.js works the same way. It never replaces or removes a file it did not
 * write, and refuses on macOS, where /bin/launchctl is launchd's own.
 */
import { chmodSync, readFileSync, realpathSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseFlags } from './args.ts';
import { EXIT, type CliContext } from './context.ts';

/** The second line of every script this command writes: how it recognises its own. */
export const LAUNCHCTL_MARKER = '# launchctl for launchfleet-agent, written by `lfctl install-launchctl`.';

/** The lfctl entry point the script runs (node-agent/bin/lfctl.js of this install). */
export function lfctlExecutable(): string {
  return realpathSync(fileURLToPath(new URL('../../bin/lfctl.js', import.meta.url)));
}

/** The script, with both paths single-quoted for sh. */
export function launchctlScript(node: string, lfctl: string): string {
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  return [
    '#!/bin/sh',
    LAUNCHCTL_MARKER,
    '# Remove with `lfctl install-launchctl --remove`; see node-agent/src/control/README.md.',
    `LFCTL_NAME=launchctl exec ${q(node)} ${q(lfctl)} "$@"`,
    '',
  ].join('\n');
}

export function installLaunchctl(
  ctx: CliContext,
  args: readonly string[],
  platform: NodeJS.Platform = process.platform,
): number {
  const p = parseFlags(args, '', ['remove'], ['dir']);
  if (p.unknown !== undefined || p.rest.length > 0) {
    ctx.err('Usage: lfctl install-launchctl [--dir DIR] [--remove]');
    return EXIT.usage;
  }
  if (platform === 'darwin') {
    ctx.err(
      "lfctl: refusing: on macOS /bin/launchctl is launchd's own and stays the launchctl; call lfctl by its name",
    );
    return 1;
  }
  const path = join(resolve(ctx.cwd, p.values.get('dir') ?? '/usr/local/bin'), 'launchctl');
  let existing: string | undefined;
  try {
    existing = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') existing = '';
  }
  const ours = existing?.split('\n')[1] === LAUNCHCTL_MARKER;
  if (p.flags.has('remove')) {
    if (existing === undefined) return 0;
    if (!ours) {
      ctx.err(`lfctl: ${path} was not written by lfctl: left alone`);
      return 1;
    }
    unlinkSync(path);
    ctx.out(`removed ${path}\n`);
    return 0;
  }
  if (existing !== undefined && !ours) {
    ctx.err(`lfctl: ${path} exists and was not written by lfctl: refusing to replace it`);
    return 1;
  }
  const script = launchctlScript(process.execPath, lfctlExecutable());
  try {
    // Written beside and renamed, so a launchctl call never sees half a script.
    const tmp = `${path}.lfctl-${process.pid}`;
    writeFileSync(tmp, script, { mode: 0o755, flag: 'wx' });
    chmodSync(tmp, 0o755);
    renameSync(tmp, path);
  } catch (e) {
    ctx.err(`lfctl: cannot write ${path}: ${(e as Error).message}`);
    return 1;
  }
  ctx.out(`${existing === undefined ? 'installed' : 'updated'} ${path}\n`);
  return 0;
}
