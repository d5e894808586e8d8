/**
 * The controller as it is run: `launchfleet-controller --config FILE` as a process, gRPC over
 * TLS (a throwaway CA made with openssl), token roles (viewer cannot apply, no token is
 * UNAUTHENTICATED), the audit stream, server reflection listing the services, and the
 * `launchfleet` CLI's tables, --json and errors against it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { jobStateReport } from '@launchfleet/shared/job';
import {
  credentials,
  loadPackageDefinition,
  status,
  type GrpcObject,
  type ServiceClientConstructor,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { buildBinaryPlist } from '@launchfleet/shared';
import type { RunningController } from '@launchfleet/controller';
import { type NodeIdentity, publishNodeEvent } from '@launchfleet/node-agent/link';
import { ControllerFleet, RawApi, jobPlist } from '../support/controller-fleet.ts';
import { freePorts } from '../support/nats-server.ts';
import { repoRoot } from '../support/paths.ts';

const run = promisify(execFile);
const cli = join(repoRoot, 'controller/bin/launchfleet.js');

describe('controller: the process, TLS, roles, audit, reflection, CLI', () => {
  let fleet: ControllerFleet;
  let helper: RunningController;
  let proc: ChildProcess;
  let port: number;
  let metricsPort: number;
  let api: RawApi;
  let nodes: NodeIdentity[];
  let stderr = '';

  const lf = async (args: string[], token = fleet.tokens.operator) => {
    try {
      const r = await run(process.execPath, [cli, ...args], {
        env: {
          ...process.env,
          LAUNCHFLEET_SERVER: `127.0.0.1:${port}`,
          LAUNCHFLEET_TOKEN: token,
          LAUNCHFLEET_CA: fleet.tls?.caCert ?? '',
        },
        timeout: 20_000,
      });
      return { code: 0, out: r.stdout, err: r.stderr };
    } catch (e) {
      const x = e as { code?: number; stdout?: string; stderr?: string };
      return { code: x.code ?? -1, out: x.stdout ?? '', err: x.stderr ?? '' };
    }
  };

  before(async () => {
    fleet = await ControllerFleet.start({ tls: true });
    // An in-process controller only to enrol nodes quickly; the one under test is the process.
    helper = await fleet.startController('helper');
    nodes = await fleet.enrollNodes(helper, 3, (i) => ({ site: i === 0 ? 'ams' : 'fra' }));
    // The controller under test is a process: its ports are chosen here.
    [port = 0, metricsPort = 0] = await freePorts(2);
    const { file } = await fleet.config({
      grpcListen: `127.0.0.1:${port}`,
      metricsListen: `127.0.0.1:${metricsPort}`,
    });
    proc = spawn(
      process.execPath,
      [join(repoRoot, 'controller/bin/launchfleet-controller.js'), '--config', file],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    proc.stderr?.setEncoding('utf8');
    proc.stderr?.on('data', (d: string) => (stderr += d));
    await waitUntil(
      () => /gRPC on/.test(stderr),
      () => `controller start: ${stderr}`,
    );
    api = new RawApi(port, fleet.tls);
    await fleet.putStatus(nodes[0] as NodeIdentity, {
      health: 'degraded',
      jobs: { 'com.acme.web': jobStateReport('spawn-scheduled', 'exit-code') },
      versions: { 'com.acme.web': '1' },
      details: { 'com.acme.web': { domain: 'system', lastExitStatus: 78 } },
    });
  });

  after(async () => {
    api?.close();
    if (proc && proc.exitCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    }
    await fleet?.close();
  });

  test('TLS with the right CA works; plaintext against the TLS port fails', async () => {
    const r = await api.call('ListNodes', {}, fleet.tokens.viewer);
    assert.equal((r['nodes'] as unknown[]).length, 3);
    const plain = new RawApi(port, undefined);
    try {
      await assert.rejects(plain.call('ListNodes', {}, fleet.tokens.viewer), (e: { code?: number }) => {
        assert.equal(e.code, status.UNAVAILABLE);
        return true;
      });
    } finally {
      plain.close();
    }
  });

  test('roles: no token UNAUTHENTICATED, viewer cannot apply, operator cannot revoke, admin can', async () => {
    const apply = { plist: jobPlist('com.acme.web'), target: { all: true } };
    const code = (p: Promise<unknown>) =>
      p.then(
        () => status.OK,
        (e: { code: number }) => e.code,
      );
    assert.equal(await code(api.call('ListJobs', {})), status.UNAUTHENTICATED);
    assert.equal(await code(api.call('ListJobs', {}, 'lfat_' + 'A'.repeat(43))), status.UNAUTHENTICATED);
    assert.equal(await code(api.call('ListJobs', {}, fleet.tokens.viewer)), status.OK);
    assert.equal(await code(api.call('ApplyJob', apply, fleet.tokens.viewer)), status.PERMISSION_DENIED);
    assert.equal(await code(api.call('ApplyJob', apply, fleet.tokens.operator)), status.OK);
    assert.equal(
      await code(api.call('RevokeNode', { nodeId: nodes[2]?.nodeId }, fleet.tokens.operator)),
      status.PERMISSION_DENIED,
    );
    assert.equal(
      await code(api.call('ListAuditEntries', {}, fleet.tokens.operator)),
      status.PERMISSION_DENIED,
    );
    // Through the CLI: it says what it did and on which servers it is in force.
    const revoked = await lf(['nodes', 'revoke', nodes[2]?.nodeId ?? ''], fleet.tokens.admin);
    assert.equal(revoked.code, 0, revoked.err);
    const server = fleet.server.name;
    assert.match(
      revoked.out,
      new RegExp(
        `^revoked ${nodes[2]?.nodeId}: credentials of user U[A-Z2-7]{55} issued at or before \\S+Z are refused; ` +
          `its connections were closed\naccount update acknowledged by 1 server\\(s\\): ${server}\n` +
          `in force on 1 server\\(s\\): ${server} \\(kept in each server's resolver directory\\)\n$`,
      ),
    );
    assert.equal(
      await code(api.call('RevokeNode', { nodeId: 'nope' }, fleet.tokens.admin)),
      status.INVALID_ARGUMENT,
    );
  });

  test('the audit stream records who did what, when, with what outcome', async () => {
    const r = await api.call('ListAuditEntries', { limit: 20 }, fleet.tokens.admin);
    const entries = (r['entries'] as Record<string, unknown>[]).map((e) => [
      e['who'],
      e['method'],
      e['outcome'],
      e['target'],
    ]);
    const revoke = nodes[2]?.nodeId;
    // Newest first.
    assert.deepEqual(entries.slice(0, 5), [
      ['ada', 'RevokeNode', 'INVALID_ARGUMENT', 'nope'],
      ['ada', 'RevokeNode', 'OK', revoke],
      ['otto', 'RevokeNode', 'PERMISSION_DENIED', revoke],
      ['otto', 'ApplyJob', 'OK', 'com.acme.web v1 -> 3 nodes'],
      ['vera', 'ApplyJob', 'PERMISSION_DENIED', 'com.acme.web'],
    ]);
    const first = (r['entries'] as Record<string, unknown>[])[0];
    assert.ok(Math.abs((first?.['atMs'] as number) - Date.now()) < 60_000);
    assert.equal(first?.['role'], 'admin');
    const only = await api.call('ListAuditEntries', { method: 'ApplyJob' }, fleet.tokens.admin);
    assert.ok((only['entries'] as { method: string }[]).every((e) => e.method === 'ApplyJob'));
  });

  test('server reflection lists the services and describes FleetService', async () => {
    const reflDir = join(dirname(createRequire(import.meta.url).resolve('@grpc/reflection')), '..', 'proto');
    const def = loadSync('grpc/reflection/v1/reflection.proto', {
      includeDirs: [reflDir],
      keepCase: true,
      oneofs: true,
    });
    const pkg = loadPackageDefinition(def);
    const v1 = ((pkg['grpc'] as GrpcObject)['reflection'] as GrpcObject)['v1'] as GrpcObject;
    const Refl = v1['ServerReflection'] as ServiceClientConstructor;
    const ca = await import('node:fs/promises').then((f) => f.readFile(fleet.tls?.caCert ?? ''));
    const client = new Refl(`127.0.0.1:${port}`, credentials.createSsl(ca));
    try {
      const ask = (req: object) =>
        new Promise<Record<string, unknown>>((resolve, reject) => {
          const call = (client as unknown as Record<string, () => NodeJS.ReadWriteStream>)[
            'ServerReflectionInfo'
          ]?.call(client);
          if (!call) return reject(new Error('no ServerReflectionInfo'));
          call.on('data', (d: Record<string, unknown>) => {
            resolve(d);
            call.end();
          });
          call.on('error', reject);
          call.write(req as unknown as string);
        });
      const list = await ask({ list_services: '' });
      const names = ((list['list_services_response'] as { service: { name: string }[] }).service ?? []).map(
        (s) => s.name,
      );
      assert.ok(names.includes('launchfleet.controller.v1.FleetService'), names.join());
      const file = await ask({ file_containing_symbol: 'launchfleet.controller.v1.FleetService' });
      const fds = (file['file_descriptor_response'] as { file_descriptor_proto: Uint8Array[] })
        .file_descriptor_proto;
      assert.ok(fds.length > 0 && Buffer.concat(fds).includes('JobHealth'));
    } finally {
      client.close();
    }
  });

  test('CLI: readable tables by default, --json for scripts', async () => {
    const list = await lf(['nodes', 'list']);
    assert.equal(list.code, 0, list.err);
    assert.match(list.out, /^NODE\s+HOSTNAME\s+PRESENCE\s+LAST SEEN\s+HEALTH\s+JOBS\s+PROBLEMS\s+LABELS$/m);
    assert.match(
      list.out,
      new RegExp(`^${nodes[0]?.nodeId}\\s+host-0\\s+online\\s+\\S+\\s+degraded\\s+1\\s+1\\s+site=ams$`, 'm'),
    );
    assert.match(list.out, /revoked/);
    const json = await lf(['nodes', 'list', '--json']);
    const doc = JSON.parse(json.out) as { nodes: { nodeId: string }[]; online: number };
    assert.equal(doc.nodes.length, 3);
    const health = await lf(['jobs', 'health', 'com.acme.web']);
    assert.equal(health.code, 0, health.err);
    assert.match(health.out, /^STATE\s+NODES$/m);
    assert.match(health.out, /^activating\s+1$/m);
    assert.match(health.out, /^SUB-STATE\s+NODES$/m);
    assert.match(health.out, /^spawn-scheduled\s+1$/m);
    assert.match(health.out, /problems: 0 crash-looping, 0 failed, 1 throttled/);
    assert.match(
      health.out,
      new RegExp(
        `^${nodes[0]?.nodeId}\\s+host-0\\s+throttled\\s+spawn-scheduled\\s+exit-code\\s+78\\s+0\\s+online\\s+\\S+\\s+1$`,
        'm',
      ),
    );
    const hj = JSON.parse((await lf(['jobs', 'health', 'com.acme.web', '--json'])).out) as {
      throttled: number;
    };
    assert.equal(hj.throttled, 1);
    const jobs = await lf(['jobs', 'list']);
    assert.match(jobs.out, /^com\.acme\.web\s+system\s+1\s+3\s+all\s+/m);
    const file = join(fleet.dir, 'job.plist');
    await writeFile(file, jobPlist('com.acme.cli'));
    const applied = await lf(['jobs', 'apply', file, '--selector', 'site=fra']);
    assert.equal(applied.code, 0, applied.err);
    assert.match(
      applied.out,
      /^applied com\.acme\.cli version 1: 1 of 1 nodes written/m,
      'the revoked node is not targeted',
    );
    // A binary plist (as macOS tools write them) is sent as XML.
    const bin = join(fleet.dir, 'bin.plist');
    await writeFile(bin, buildBinaryPlist({ Label: 'com.acme.bin', ProgramArguments: ['/bin/true'] }));
    const binApplied = await lf(['jobs', 'apply', bin, '--nodes', 'host-1', '--domain', 'gui/*']);
    assert.equal(binApplied.code, 0, binApplied.err);
    assert.match(binApplied.out, /^applied com\.acme\.bin version 1: 1 of 1 nodes written/m);
    const got = JSON.parse((await lf(['jobs', 'get', 'com.acme.bin', '--json'])).out) as {
      plist: string;
      domain: string;
    };
    assert.match(got.plist, /<key>Label<\/key>\s*<string>com\.acme\.bin<\/string>/);
    assert.equal(got.domain, 'gui/*');
    const desc = await lf(['nodes', 'describe', 'host-0']);
    assert.match(
      desc.out,
      /^com\.acme\.web\s+system\s+spawn-scheduled\s+activating\s+exit-code\s+1\s+78\s+throttled$/m,
    );
    const deleted = await lf(['jobs', 'delete', 'com.acme.cli', '--json']);
    assert.equal((JSON.parse(deleted.out) as { nodesRemoved: number }).nodesRemoved, 1);
  });

  test('events: stored history through the CLI, and a live stream with follow', async () => {
    const n = nodes[0] as NodeIdentity;
    const nc = await fleet.nodeConn(n);
    await publishNodeEvent(
      nc,
      n.nodeId,
      { kind: 'bundle-refused', label: 'com.acme.web', reason: 'bad-signature', version: 3 },
      Date.now(),
    );
    const r = await lf(['events', '--since', '600', '--json', '--source', n.nodeId]);
    assert.equal(r.code, 0, r.err);
    const evs = r.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(
      evs.some(
        (e) => e['kind'] === 'bundle-refused' && e['reason'] === 'bad-signature' && e['version'] === 3,
      ),
      r.out,
    );
    const text = await lf(['events', '--since', '600', '--label', 'com.acme.web']);
    assert.match(text.out, new RegExp(`${n.nodeId}  bundle-refused  com\\.acme\\.web  bad-signature  v3`));
    // Live: only events after the stream opened, until the client cancels.
    const live = api.stream('WatchEvents', { follow: true, label: 'com.acme.live' }, fleet.tokens.viewer);
    const got = new Promise<Record<string, unknown>>((resolve, reject) => {
      live.on('data', resolve);
      live.on('error', reject);
    });
    // The server creates its consumer when the call starts; publish until the stream sees one.
    let done = false;
    got.then(
      () => (done = true),
      () => (done = true),
    );
    for (let i = 0; i < 100 && !done; i++) {
      await publishNodeEvent(nc, n.nodeId, { kind: 'trust-updated', label: 'com.acme.live' }, Date.now());
      await Promise.race([got, new Promise((r) => setTimeout(r, 100))]);
    }
    const ev = await got;
    assert.equal(ev['kind'], 'trust-updated');
    live.cancel();
  });

  test('CLI: helpful errors', async () => {
    const refused = await lf(['nodes', 'list', '--server', '127.0.0.1:1']);
    assert.equal(refused.code, 1);
    assert.equal(
      refused.err.trim(),
      'launchfleet: cannot reach controller at 127.0.0.1:1: connection refused',
    );
    const denied = await lf(['jobs', 'delete', 'com.acme.web'], fleet.tokens.viewer);
    assert.equal(denied.code, 1);
    assert.match(denied.err, /permission denied: DeleteJob needs the operator role; token vera has viewer/);
    const noToken = await lf(['jobs', 'list'], '');
    assert.match(noToken.err, /no API token.*pass --token or set LAUNCHFLEET_TOKEN/);
    const missing = await lf(['jobs', 'get', 'com.acme.none']);
    assert.match(missing.err, /^launchfleet: job not found: com\.acme\.none$/m);
    const usage = await lf(['jobs', 'apply', 'x.plist']);
    assert.equal(usage.code, 2);
    assert.match(usage.err, /exactly one of --nodes, --selector or --all/);
    const m = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    assert.equal(m.status, 200);
  });
});

async function waitUntil(check: () => boolean, what: () => string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
