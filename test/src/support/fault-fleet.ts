/**
 * What the fault suite (test/src/integration/fault-*.test.ts, docs/fault-suite.md) adds to the
 * local fleet: a NATS connection with the controller's own credentials (to read every event and
 * to publish what a broken or hostile peer would), a job applied through the real CLI, the pids
 * the agent's own `lfctl list` shows, and a small tmpfs the test mounts for an agent's state
 * directory (so "disk full" and "read-only" are the kernel's answers, not a fake's).
 */
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  statfsSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { KeyStore, NatsIdentity } from '@launchfleet/controller/identity';
import { decodeNodeEvent, type NodeEvent } from '@launchfleet/shared/messages';
import type { LocalFleet } from './local-fleet.ts';
import { alive, runLfctl } from './agent.ts';

/** A connection to the fleet's broker as the controller (full rights in the fleet account). */
export async function controllerConn(fleet: LocalFleet): Promise<NatsConnection> {
  const ks = await KeyStore.open(join(fleet.dir, 'controller', 'keys'));
  const creds = await new NatsIdentity(ks.natsKeys()).controllerCreds();
  return connect({
    servers: [fleet.natsUrl],
    authenticator: credsAuthenticator(creds),
    name: 'fault-suite',
    reconnectTimeWait: 200,
    maxReconnectAttempts: -1,
  });
}

/** Every node event published on the broker while the log is open (decodable ones), in order. */
export class FleetEvents {
  readonly events: NodeEvent[] = [];

  constructor(nc: NatsConnection) {
    nc.subscribe('lf.events.>', {
      callback: (_e, m) => {
        const d = decodeNodeEvent(m.data);
        if (d.ok) this.events.push(d.value);
      },
    });
  }

  of(nodeId: string, kind?: string, label?: string): NodeEvent[] {
    return this.events.filter(
      (e) =>
        e.source === nodeId &&
        (kind === undefined || e.kind === kind) &&
        (label === undefined || e.label === label),
    );
  }
}

/** A KeepAlive /bin/sh daemon (exec, so the pid the agent reports is the sleeper's). */
export function faultPlist(label: string, script = 'exec sleep 600', extra = ''): string {
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  return `<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict>
  <key>Label</key><string>${esc(label)}</string>
  <key>ProgramArguments</key><array><string>/bin/sh</string><string>-c</string><string>${esc(script)}</string></array>
  <key>KeepAlive</key><true/>
  <key>ThrottleInterval</key><integer>1</integer>${extra}
</dict></plist>
`;
}

/** Applies a plist to every node through `launchfleet jobs apply --all`; throws with the CLI's words. */
export async function applyToAll(fleet: LocalFleet, label: string, plist: string): Promise<void> {
  const f = join(fleet.dir, `${label}.plist`);
  writeFileSync(f, plist);
  const r = await fleet.cli(['jobs', 'apply', f, '--all']);
  if (r.code !== 0) throw new Error(`launchfleet jobs apply ${label}: ${r.stderr}`);
}

interface NodesList {
  nodes?: { nodeId: string; presence: string | number }[];
}

/**
 * The fleet's node's presence as `launchfleet nodes list --json` shows it ("online", "offline",
 * ...), or `error: <stderr>` when the CLI call fails (a failed call says nothing either way).
 */
export async function presence(fleet: LocalFleet, nodeId = fleet.nodeId): Promise<string> {
  const r = await fleet.cli(['nodes', 'list', '--json']);
  if (r.code !== 0) return `error: ${r.stderr}`;
  const l = JSON.parse(r.stdout) as NodesList;
  return String(l.nodes?.find((n) => n.nodeId === nodeId)?.presence);
}

/** The pid of each running job as the agent's own `lfctl list` shows it (label -> pid). */
export async function listedPids(fleet: LocalFleet, name = 'agent'): Promise<Map<string, number>> {
  const r = await runLfctl(['--run-dir', fleet.runDir(name), 'list', '--json']);
  if (r.code !== 0) throw new Error(`lfctl list: ${r.stderr}`);
  const rows = (JSON.parse(r.stdout) as { jobs: { pid: string; label: string }[] }).jobs;
  return new Map(rows.filter((j) => j.pid !== '-').map((j) => [j.label, Number(j.pid)]));
}

/** A tmpfs of `sizeKiB` mounted on a fresh directory (root only); `unmount` removes both. */
export interface SmallDisk {
  readonly path: string;
  /** Writes a filler file until the kernel says ENOSPC; returns the bytes written. */
  fill(): number;
  /** Deletes the filler file. */
  free(): void;
  readOnly(on: boolean): void;
  /** Free bytes as statfs sees them. */
  available(): number;
  unmount(): void;
}

export function mountSmallDisk(sizeKiB: number): SmallDisk {
  const path = mkdtempSync(join(tmpdir(), 'lf-fault-disk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKiB}k,mode=0700`, 'lf-fault-disk', path], {
      stdio: 'pipe',
    });
  } catch (e) {
    rmSync(path, { recursive: true, force: true });
    throw e;
  }
  const filler = join(path, 'filler');
  return {
    path,
    fill() {
      const fd = openSync(filler, 'a');
      const block = Buffer.alloc(4096);
      let n = 0;
      try {
        for (;;) n += writeSync(fd, block);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
      } finally {
        closeSync(fd);
      }
      return n;
    },
    free() {
      rmSync(filler, { force: true });
    },
    readOnly(on) {
      execFileSync('mount', ['-o', `remount,${on ? 'ro' : 'rw'}`, path], { stdio: 'pipe' });
    },
    available() {
      const s = statfsSync(path);
      return s.bavail * s.bsize;
    },
    unmount() {
      try {
        execFileSync('umount', ['-l', path], { stdio: 'pipe' });
      } finally {
        rmSync(path, { recursive: true, force: true });
      }
    },
  };
}

/** Whether the test may mount file systems here (root, and mount(8) works). */
export function canMount(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    const d = mountSmallDisk(64);
    d.unmount();
    return true;
  } catch {
    return false;
  }
}

/**
 * How many live processes run exactly `cmd` (e.g. "sleep 7171"), whoever started them: the
 * suite gives each job a distinct command line, so a second instance (a job left behind by a
 * dead agent beside the new agent's) is seen machine-wide, not only through the agent's eyes.
 */
export function instances(cmd: string): number {
  let n = 0;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').join(' ').trim() === cmd && alive(Number(d)))
        n++;
    } catch {
      // gone meanwhile
    }
  }
  return n;
}
