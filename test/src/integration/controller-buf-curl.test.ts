/**
 * The controller's gRPC API through a client nobody here wrote: `buf curl` (npm @bufbuild/buf, a
 * Go-protobuf tool) with server reflection and NO copy of the .proto files, over TLS with the
 * local CA, against a real controller, nats-server and agent (support/local-fleet.ts). It lists
 * and describes the services (the reflected FileDescriptorProtos, fetched with buf curl itself,
 * must be those protoc makes: the checked-in descriptor-set.binpb, which must be what `buf build`
 * makes of the .proto files now) and calls every read method of FleetService and RolloutService.
 * `--protocol grpc` is required: buf curl's default Connect protocol gets HTTP 415 from grpc-js.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  credentials,
  loadPackageDefinition,
  type GrpcObject,
  type ServiceClientConstructor,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { descriptorSetFile, splitDescriptorSet } from '@launchfleet/controller';
import { type LocalFleet, startLocalFleet } from '../support/local-fleet.ts';
import { eventually } from '../support/eventually.ts';
import { repoRoot } from '../support/paths.ts';

const buf = join(repoRoot, 'node_modules', '.bin', 'buf');
const label = 'com.example.bufcurl';

function plist(version: number): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict>
  <key>Label</key><string>${label}</string>
  <key>ProgramArguments</key><array><string>/bin/sleep</string><string>${300 + version}</string></array>
  <key>RunAtLoad</key><true/>
</dict></plist>
`;
}

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(buf, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, BUF_CACHE_DIR: cacheDir },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

let cacheDir = '';

type ReflectionCall = NodeJS.EventEmitter & { write(m: unknown): void; end(): void };

/** fileContainingSymbol through grpc.reflection.v1 (the .proto file @grpc/reflection ships). */
async function reflectedFiles(f: LocalFleet, symbol: string): Promise<Buffer[]> {
  const def = loadSync(
    join(repoRoot, 'node_modules/@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto'),
    {
      longs: Number,
      enums: String,
      oneofs: true,
    },
  );
  const pkg = loadPackageDefinition(def) as unknown as {
    grpc: { reflection: { v1: GrpcObject & { ServerReflection: ServiceClientConstructor } } };
  };
  const client = new pkg.grpc.reflection.v1.ServerReflection(
    f.grpcAddress,
    credentials.createSsl(readFileSync(f.caCert)),
  );
  try {
    return await new Promise<Buffer[]>((resolve, reject) => {
      const call = (client as unknown as { ServerReflectionInfo(): ReflectionCall }).ServerReflectionInfo();
      call.on('data', (m: { fileDescriptorResponse?: { fileDescriptorProto?: Buffer[] } }) => {
        resolve(m.fileDescriptorResponse?.fileDescriptorProto ?? []);
        call.end();
      });
      call.on('error', reject);
      call.write({ fileContainingSymbol: symbol });
    });
  } finally {
    client.close();
  }
}

describe('buf curl with server reflection only, against a real controller', () => {
  let f: LocalFleet;
  let work: string;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'lf-bufcurl-'));
    cacheDir = join(work, 'buf-cache');
    f = await startLocalFleet();
  });

  after(async () => {
    await f.stop();
    rmSync(work, { recursive: true, force: true });
  });

  const curl = (path: string, data?: unknown, more: string[] = []): ReturnType<typeof run> =>
    run([
      'curl',
      '--protocol',
      'grpc',
      '--cacert',
      f.caCert,
      '-H',
      `authorization: Bearer ${f.adminToken}`,
      ...(data !== undefined ? ['-d', JSON.stringify(data)] : []),
      ...more,
      `https://${f.grpcAddress}${path}`,
    ]);

  test('the checked-in descriptors are what buf build makes of the .proto files now', async () => {
    const out = join(work, 'fresh.binpb');
    const r = await run([
      'build',
      join(repoRoot, 'proto'),
      '--path',
      join(repoRoot, 'proto', 'launchfleet', 'controller', 'v1'),
      '--exclude-source-info',
      '--as-file-descriptor-set',
      '-o',
      out,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(
      readFileSync(out).equals(readFileSync(descriptorSetFile)),
      'proto/launchfleet/controller/v1/descriptor-set.binpb is stale: run `npm run proto:descriptors`',
    );
  });

  test("lists and describes the services; the reflected files are protoc's", async () => {
    const services = await curl('', undefined, ['--list-services']);
    assert.equal(services.code, 0, services.stderr);
    const names = services.stdout.trim().split('\n').sort();
    assert.deepEqual(names, [
      'launchfleet.controller.v1.FleetService',
      'launchfleet.controller.v1.RolloutService',
    ]);
    const methods = await curl('', undefined, ['--list-methods']);
    assert.equal(methods.code, 0, methods.stderr);
    const fleetMethods = methods;
    for (const m of [
      'ListJobs',
      'GetJob',
      'ListNodes',
      'DescribeNode',
      'JobHealth',
      'WatchEvents',
      'ListAuditEntries',
    ])
      assert.match(
        fleetMethods.stdout,
        new RegExp(`^launchfleet\\.controller\\.v1\\.FleetService/${m}$`, 'm'),
      );
    const rolloutMethods = methods;
    for (const m of ['GetRollout', 'ListRollouts', 'WatchRollout'])
      assert.match(
        rolloutMethods.stdout,
        new RegExp(`^launchfleet\\.controller\\.v1\\.RolloutService/${m}$`, 'm'),
      );

    // Describe: the files reflection serves (read with a plain reflection client), byte for byte
    // protoc's descriptors, which buf curl has just used above.
    const reflected = await reflectedFiles(f, 'launchfleet.controller.v1.RolloutService');
    const expected = splitDescriptorSet(readFileSync(descriptorSetFile)).map((b) => Buffer.from(b));
    assert.equal(reflected.length, 2, 'rollout.proto and the fleet.proto it imports');
    for (const r of reflected)
      assert.ok(
        expected.some((e) => e.equals(r)),
        'a reflected file is byte for byte the protoc descriptor',
      );
    const text = reflected.map((b) => b.toString('latin1')).join('\n');
    assert.match(text, /launchfleet\/controller\/v1\/fleet\.proto/);
    assert.match(text, /LabelsEntry/);
    assert.match(text, /\.launchfleet\.controller\.v1\.NodeSummary\.LabelsEntry/);
  });

  test('calls every read method of FleetService and RolloutService', async () => {
    const v1 = join(work, 'v1.plist');
    const v2 = join(work, 'v2.plist');
    writeFileSync(v1, plist(1));
    writeFileSync(v2, plist(2));
    const applied = await f.cli(['jobs', 'apply', v1, '--all']);
    assert.equal(applied.code, 0, applied.stderr);
    const started = await f.cli([
      'rollout',
      'start',
      v2,
      '--all',
      '--id',
      'buf-1',
      '--min-healthy',
      '1s',
      '--deadline',
      '60s',
    ]);
    assert.equal(started.code, 0, started.stderr);

    const F = '/launchfleet.controller.v1.FleetService';
    const R = '/launchfleet.controller.v1.RolloutService';
    const ok = async (path: string, data: unknown): Promise<Record<string, unknown>> => {
      const r = await curl(path, data);
      assert.equal(r.code, 0, `${path}: ${r.stderr}`);
      return JSON.parse(r.stdout) as Record<string, unknown>;
    };
    const jobs = await ok(`${F}/ListJobs`, {});
    assert.ok(JSON.stringify(jobs).includes(label));
    assert.equal((await ok(`${F}/GetJob`, { label }))['label'], label);
    const nodes = await ok(`${F}/ListNodes`, {});
    assert.ok(JSON.stringify(nodes).includes(f.nodeId));
    assert.ok(JSON.stringify(await ok(`${F}/DescribeNode`, { node: f.nodeId })).includes(f.nodeId));
    await eventually(async () => {
      const h = await ok(`${F}/JobHealth`, { label });
      assert.ok(Number(h['nodesReporting']) >= 1, JSON.stringify(h));
    }, 30_000);
    const audit = await ok(`${F}/ListAuditEntries`, {});
    assert.ok(JSON.stringify(audit).includes('ApplyJob'));
    assert.equal((await ok(`${R}/GetRollout`, { rolloutId: 'buf-1' }))['rolloutId'], 'buf-1');
    assert.ok(JSON.stringify(await ok(`${R}/ListRollouts`, {})).includes('buf-1'));

    // The two server streams do not end by themselves: each must deliver a message first.
    for (const [path, data] of [
      [`${F}/WatchEvents`, { historySeconds: 3600 }],
      [`${R}/WatchRollout`, { rolloutId: 'buf-1' }],
    ] as const) {
      const r = await curl(path, data, ['--timeout', '4s']);
      assert.match(r.stdout, /^\{/m, `${path} delivered a message (${r.stderr})`);
      if (r.code !== 0) assert.match(r.stderr, /deadline_exceeded/i, `${path}: ${r.stderr}`);
    }
  });
});
