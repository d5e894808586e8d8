/**
 * The controller with several agent processes (issue 6): three real `launchfleet-agent`
 * processes enrol as three nodes with their own credentials and selector labels; a job applied
 * by label selector runs on exactly the matching node, one applied to all runs on every node,
 * and an agent process killed outright shows as offline with its last report kept and its
 * staleness growing, while the other nodes keep reporting.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type LocalFleet, startLocalFleet } from '../support/local-fleet.ts';
import { eventually } from '../support/eventually.ts';

interface Health {
  states?: Record<string, number>;
  subStates?: Record<string, number>;
  nodesReporting?: number;
  nodesOffline?: number;
  nodesTargeted?: number;
}
interface NodesList {
  nodes?: {
    nodeId: string;
    presence: string | number;
    stalenessMs: string | number;
    labels?: Record<string, string>;
  }[];
}

const plist = (label: string) => `<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict>
  <key>Label</key><string>${label}</string>
  <key>ProgramArguments</key><array><string>/bin/sh</string><string>-c</string><string>exec sleep 600</string></array>
  <key>KeepAlive</key><true/>
</dict></plist>
`;

describe('e2e: the controller with three agent processes', { timeout: 240_000 }, () => {
  let fleet: LocalFleet;

  before(async () => {
    fleet = await startLocalFleet({
      // Longer than the agents' heartbeat period (10 s plus up to 20 % jitter), so live nodes
      // never look offline between heartbeats.
      offlineAfterSeconds: 15,
      extraAgents: [
        { name: 'ams', labels: { site: 'ams' } },
        { name: 'ber', labels: { site: 'ber' } },
      ],
    });
  });
  after(async () => {
    await fleet?.stop();
  });

  const json = async <T>(args: string[]): Promise<T> => {
    const r = await fleet.cli([...args, '--json']);
    assert.equal(r.code, 0, `launchfleet ${args.join(' ')}: ${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  };
  const health = (label: string) => json<Health>(['jobs', 'health', label]);

  test('three nodes enrolled, each with its own identity and labels', async () => {
    const ids = [fleet.nodeId, fleet.extraNodeIds['ams'], fleet.extraNodeIds['ber']];
    assert.equal(new Set(ids).size, 3);
    const list = await eventually(async () => {
      const l = await json<NodesList>(['nodes', 'list']);
      if ((l.nodes ?? []).length < 3) throw new Error(`only ${(l.nodes ?? []).length} nodes`);
      return l;
    }, 30_000);
    const ams = list.nodes?.find((n) => n.nodeId === fleet.extraNodeIds['ams']);
    assert.equal(ams?.labels?.['site'], 'ams');
  });

  test('a selector reaches exactly the matching node; --all reaches every node', async () => {
    const f1 = join(fleet.dir, 'com.e2e.ams.plist');
    await writeFile(f1, plist('com.e2e.ams'));
    const a = await fleet.cli(['jobs', 'apply', f1, '--selector', 'site=ams']);
    assert.equal(a.code, 0, a.stderr);
    await eventually(async () => {
      const h = await health('com.e2e.ams');
      if (h.subStates?.['running'] !== 1) throw new Error(`not running yet: ${JSON.stringify(h)}`);
    }, 60_000);
    // Give the other nodes time to have received it, if the selector were wrong.
    await new Promise((r) => setTimeout(r, 2_000));
    const h1 = await health('com.e2e.ams');
    assert.equal(h1.nodesReporting, 1, JSON.stringify(h1));
    assert.equal(h1.nodesTargeted, 1, JSON.stringify(h1));

    const f2 = join(fleet.dir, 'com.e2e.all.plist');
    await writeFile(f2, plist('com.e2e.all'));
    const b = await fleet.cli(['jobs', 'apply', f2, '--all']);
    assert.equal(b.code, 0, b.stderr);
    await eventually(async () => {
      const h = await health('com.e2e.all');
      if (h.subStates?.['running'] !== 3) throw new Error(`not on every node yet: ${JSON.stringify(h)}`);
    }, 60_000);
  });

  test('a killed agent process goes offline, its last report kept; the others keep reporting', async () => {
    const ber = fleet.extraNodeIds['ber'];
    assert.ok(ber);
    await fleet.killAgent('ber');
    const list = await eventually(async () => {
      const l = await json<NodesList>(['nodes', 'list']);
      const n = l.nodes?.find((x) => x.nodeId === ber);
      if (!/offline/i.test(String(n?.presence))) throw new Error(`ber still ${String(n?.presence)}`);
      return l;
    }, 45_000);
    const online = (list.nodes ?? []).filter((n) => /online/i.test(String(n.presence)));
    assert.equal(online.length, 2, JSON.stringify(list));
    const h = await health('com.e2e.all');
    assert.equal(h.nodesOffline, 1, JSON.stringify(h));
    assert.equal(h.nodesReporting, 3, 'the offline node is still reported, with its staleness');
  });

  test('the agent started again reaps what its predecessor left, comes back online and runs its job', async () => {
    await fleet.restartAgent('ber');
    await eventually(async () => {
      const h = await health('com.e2e.all');
      if (h.nodesOffline !== 0 || h.subStates?.['running'] !== 3)
        throw new Error(`not back yet: ${JSON.stringify(h)}`);
    }, 60_000);
    const log = await fleet.logs();
    assert.match(log, /stopped 1 process groups left by the previous agent/);
  });
});
