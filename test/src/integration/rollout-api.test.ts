/**
 * RolloutService and `launchfleet rollout` (issue 7) against a whole controller, a real
 * nats-server and three real agents (in process): start, status (piped: plain lines, no
 * bars), pause, resume, watch to the end, history, --json; abort and a manual rollback over
 * gRPC with roles; every call audited.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status, type ServiceError } from '@grpc/grpc-js';
import { loadRolloutProto } from '@launchfleet/controller';
import { credentials, Metadata, type Client, type ClientReadableStream } from '@grpc/grpc-js';
import { eventually } from '../support/link-node.ts';
import { runningCommand, versionedPlist } from '../support/rollout-fleet.ts';
import { type RolloutController, startRolloutController } from '../support/rollout-controller.ts';

type Obj = Record<string, unknown>;

/** A raw RolloutService client that keeps gRPC status codes. */
class RolloutApi {
  readonly #c: Client & Record<string, unknown>;
  constructor(port: number) {
    const { Client: C } = loadRolloutProto();
    this.#c = new C(`127.0.0.1:${port}`, credentials.createInsecure());
  }
  call(method: string, req: Obj, token: string): Promise<Obj> {
    const md = new Metadata();
    md.set('authorization', `Bearer ${token}`);
    const fn = this.#c[method] as (
      r: Obj,
      m: Metadata,
      cb: (e: ServiceError | null, res?: Obj) => void,
    ) => void;
    return new Promise((resolve, reject) =>
      fn.call(this.#c, req, md, (e, res) => (e ? reject(e) : resolve(res ?? {}))),
    );
  }
  stream(method: string, req: Obj, token: string): ClientReadableStream<Obj> {
    const md = new Metadata();
    md.set('authorization', `Bearer ${token}`);
    const fn = this.#c[method] as (r: Obj, m: Metadata) => ClientReadableStream<Obj>;
    return fn.call(this.#c, req, md);
  }
  close(): void {
    this.#c.close();
  }
}

describe('rollout API and CLI', () => {
  let rc: RolloutController;
  let api: RolloutApi;
  let dir: string;

  before(async () => {
    rc = await startRolloutController(3);
    api = new RolloutApi(rc.controller.grpcPort);
    dir = await mkdtemp(join(tmpdir(), 'lf-rollout-api-'));
  });

  after(async () => {
    api?.close();
    await rc?.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function baseline(label: string): Promise<void> {
    await rc.controller.app.desired.apply({
      plist: versionedPlist(label, 1),
      domain: 'system',
      target: { kind: 'all' },
      by: 'test',
    });
    for (const node of rc.nodes)
      await eventually(async () => (await runningCommand(node, label)) === 'sleep 301', 15_000, 'v1 running');
  }

  test('CLI: start, pause, status (piped), resume, watch to the end, history, --json', async () => {
    const label = 'com.acme.cli';
    await baseline(label);
    const file = join(dir, 'v2.plist');
    await writeFile(file, versionedPlist(label, 2));
    const op = rc.fleet.tokens.operator;
    const viewer = rc.fleet.tokens.viewer;
    const bad = await rc.cli(op, 'rollout', 'start', file, '--all', '--canary', 'x');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--canary: expected a number of nodes/);
    // One name per idea: --selector (its old name --label-selector still works, not both).
    const both = await rc.cli(op, 'rollout', 'start', file, '--selector', 'a=b', '--label-selector', 'a=b');
    assert.equal(both.code, 2);
    assert.match(both.stderr, /--label-selector is the old name of --selector: give one/);
    const none = await rc.cli(op, 'rollout', 'start', file);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /exactly one of --nodes, --selector or --all/);
    const help = await rc.cli(op, 'rollout', 'start', '--help');
    assert.match(
      help.stdout.replace(/\s+/g, ' '),
      /--waves <counts> each wave's own size .* NOT running totals/,
    );
    assert.doesNotMatch(help.stdout, /--label-selector/);
    const denied = await rc.cli(viewer, 'rollout', 'start', file, '--all', '--id', 'cli-1');
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /permission denied: StartRollout needs the operator role/);
    const started = await rc.cli(
      op,
      'rollout',
      'start',
      file,
      '--all',
      '--id',
      'cli-1',
      '--canary',
      '1',
      '--waves',
      '100%',
      '--max-unavailable',
      '2',
      '--min-healthy',
      '3s',
      '--deadline',
      '20s',
    );
    assert.equal(started.code, 0, started.stderr);
    assert.match(started.stdout, /started rollout cli-1/);
    const paused = await rc.cli(op, 'rollout', 'pause', 'cli-1', '--reason', 'lunch');
    assert.equal(paused.code, 0, paused.stderr);
    assert.match(paused.stdout, /pause applied: rollout cli-1 is paused/);
    const st = await rc.cli(viewer, 'rollout', 'status', 'cli-1');
    assert.equal(st.code, 0, st.stderr);
    assert.match(st.stdout, /^rollout cli-1: com\.acme\.cli -> version \d+ on all$/m);
    assert.match(st.stdout, /^phase paused,/m);
    assert.match(st.stdout, /^step canary: \d\/1 healthy, .*\((running|done|passed)\)$/m);
    assert.match(st.stdout, /^step wave-1: 0\/2 healthy, 0 updating/m);
    assert.doesNotMatch(
      st.stdout,
      new RegExp(`[█░]|${String.fromCharCode(27)}`),
      'no bars or escapes when piped',
    );
    assert.match(st.stdout, /paused: lunch \(by otto\)/);
    // Paused: the wave does not start however long the canary has been healthy.
    await new Promise((r) => setTimeout(r, 3500));
    const still = JSON.parse((await rc.cli(viewer, 'rollout', 'status', 'cli-1', '--json')).stdout) as Obj;
    assert.equal(still['phase'], 'paused');
    assert.equal((still['steps'] as Obj[])[1]?.['updating'], 0);
    const resumed = await rc.cli(op, 'rollout', 'resume', 'cli-1');
    assert.match(resumed.stdout, /resume applied: rollout cli-1 is (canary|wave)/);
    const watched = await rc.cli(viewer, 'rollout', 'status', 'cli-1', '--watch');
    assert.equal(watched.code, 0, watched.stderr);
    const lines = watched.stdout.trim().split('\n');
    assert.ok(
      lines.some((l) =>
        / cli-1 phase (canary|wave) progress \d+%; step (canary|wave-1): \d\/\d healthy/.test(l),
      ),
      watched.stdout,
    );
    assert.match(watched.stdout, /cli-1 phase succeeded progress 100%/);
    assert.doesNotMatch(watched.stdout, new RegExp(`[█░]|${String.fromCharCode(27)}`));
    const hist = await rc.cli(viewer, 'rollout', 'history');
    assert.match(hist.stdout, /^ID\s+LABEL\s+VERSION\s+PHASE/m);
    assert.match(hist.stdout, /^cli-1\s+com\.acme\.cli\s+\d+\s+succeeded\s+100%/m);
    const one = await rc.cli(viewer, 'rollout', 'history', 'cli-1');
    assert.match(one.stdout, /canary: passed/);
    assert.match(one.stdout, /wave-1: passed/);
    assert.match(one.stdout, /resumed: resumed/);
    for (const node of rc.nodes)
      await eventually(
        async () => (await runningCommand(node, label)) === 'sleep 302',
        10_000,
        'v2 everywhere',
      );
    // On a terminal: one progress bar per step.
    const tty = await rc.cliTty(viewer, 'rollout', 'status', 'cli-1');
    assert.equal(tty.code, 0, tty.stderr);
    assert.match(tty.stdout, /canary {3}\[█{20}\] 1\/1 healthy/);
    assert.match(tty.stdout, /wave-1 {3}\[█{20}\] 2\/2 healthy/);
    // The rollout gauges on the controller's /metrics.
    const metrics = await (await fetch(`http://127.0.0.1:${rc.controller.metricsPort}/metrics`)).text();
    assert.match(
      metrics,
      /^launchfleet_rollout_state\{rollout="cli-1",label="com\.acme\.cli",state="succeeded"\} 1$/m,
    );
    assert.match(
      metrics,
      /^launchfleet_rollout_state\{rollout="cli-1",label="com\.acme\.cli",state="running"\} 0$/m,
    );
    assert.match(
      metrics,
      /^launchfleet_rollout_progress_ratio\{rollout="cli-1",label="com\.acme\.cli"\} 1$/m,
    );
    assert.match(
      metrics,
      /^launchfleet_rollout_last_progress_timestamp_seconds\{rollout="cli-1",label="com\.acme\.cli"\} \d+/m,
    );
    const unknown = await rc.cli(viewer, 'rollout', 'status', 'nope');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /rollout not found: nope/);
  });

  test('gRPC: roles, abort, manual rollback to the previous version, watch, audit', async () => {
    const label = 'com.acme.grpc';
    await baseline(label);
    const op = rc.fleet.tokens.operator;
    const viewer = rc.fleet.tokens.viewer;
    const req = {
      rolloutId: 'grpc-1',
      plist: versionedPlist(label, 2),
      target: { all: true },
      canary: { nodes: 1 },
      waves: [{ percent: 100 }],
      maxUnavailable: { nodes: 1 },
      minHealthySeconds: 60,
      progressDeadlineSeconds: 120,
    };
    await assert.rejects(
      api.call('StartRollout', req, viewer),
      (e: ServiceError) => e.code === status.PERMISSION_DENIED,
    );
    await assert.rejects(
      api.call('GetRollout', { rolloutId: 'grpc-1' }, viewer),
      (e: ServiceError) => e.code === status.NOT_FOUND,
    );
    await assert.rejects(
      api.call('StartRollout', { ...req, canary: { percent: 200 } }, op),
      (e: ServiceError) => e.code === status.INVALID_ARGUMENT && /strategy.canary/.test(e.details),
    );
    const r = await api.call('StartRollout', req, op);
    assert.equal(r['phase'], 'pending');
    await assert.rejects(
      api.call('StartRollout', { ...req, rolloutId: 'grpc-2' }, op),
      (e: ServiceError) => e.code === status.ABORTED,
    );
    // The canary is written and runs v2 (the gate wants 60 s, so the rollout stays in the canary).
    const seen: string[] = [];
    const stream = api.stream('WatchRollout', { rolloutId: 'grpc-1' }, viewer);
    const streamDone = new Promise<void>((resolve, reject) => {
      stream.on('data', (x: Obj) => seen.push(String(x['phase'])));
      stream.on('end', () => resolve());
      stream.on('error', reject);
    });
    // The watch reports every revision from its first message on (a KV watch, not a poll).
    await eventually(() => seen.length > 0, 5_000, 'the first watch message');
    const canaryId = await eventually(
      async () => {
        const g = await api.call('GetRollout', { rolloutId: 'grpc-1' }, viewer);
        const n = (g['nodes'] as Obj[]).find((x) => x['lastSetReason'] === 'rollout');
        return n ? String(n['nodeId']) : undefined;
      },
      15_000,
      'canary written',
    );
    const canary = rc.nodes[rc.nodeIds.indexOf(canaryId)]!;
    await eventually(
      async () => (await runningCommand(canary, label)) === 'sleep 302',
      15_000,
      'v2 on the canary',
    );
    await assert.rejects(
      api.call('AbortRollout', { rolloutId: 'grpc-1' }, viewer),
      (e: ServiceError) => e.code === status.PERMISSION_DENIED,
    );
    const aborted = await api.call('AbortRollout', { rolloutId: 'grpc-1', reason: 'wrong build' }, op);
    assert.equal(aborted['commandApplied'], true);
    assert.equal(aborted['phase'], 'aborted');
    assert.match(String(aborted['outcome']), /aborted: wrong build/);
    // Aborted leaves nodes as they are; resume is refused by the machine (recorded as ignored).
    assert.equal(await runningCommand(canary, label), 'sleep 302');
    const resumed = await api.call('ResumeRollout', { rolloutId: 'grpc-1' }, op);
    assert.equal(resumed['phase'], 'aborted');
    assert.match(String(resumed['commandResult']), /^ignored: resume ignored: the rollout is aborted/);
    const cliResume = await rc.cli(op, 'rollout', 'resume', 'grpc-1');
    assert.equal(cliResume.code, 1);
    assert.match(
      cliResume.stdout,
      /resume ignored: rollout grpc-1 is aborted \(resume ignored: the rollout is aborted\)/,
    );
    // A manual rollback sets the canary back to v1 (re-signed with a higher version).
    const rb = await api.call('RollbackRollout', { rolloutId: 'grpc-1', reason: 'back to v1' }, op);
    assert.match(String(rb['phase']), /rolling-back|rolled-back/);
    await eventually(
      async () => (await runningCommand(canary, label)) === 'sleep 301',
      15_000,
      'v1 back on the canary',
    );
    const final = await eventually(
      async () => {
        const g = await api.call('GetRollout', { rolloutId: 'grpc-1' }, viewer);
        return g['phase'] === 'rolled-back' ? g : undefined;
      },
      15_000,
      'rolled back',
    );
    assert.match(String(final['outcome']), /manual rollback: back to v1/);
    // The watch saw the rollout run and ended when it finished (the abort).
    await streamDone;
    assert.match(seen[0] ?? '', /^(pending|canary)$/);
    assert.ok(seen.includes('canary'), seen.join(','));
    assert.equal(seen.at(-1), 'aborted');
    const list = await api.call('ListRollouts', { label }, viewer);
    assert.deepEqual(
      (list['rollouts'] as Obj[]).map((x) => x['rolloutId']),
      ['grpc-1'],
    );
    // Every call is in the audit stream, refused ones too.
    const audit = await rc.controller.app.audit.list(200);
    const methods = audit
      .filter((e) => e.target.startsWith('grpc-1') || e.target === '')
      .map((e) => `${e.method}:${e.outcome}`);
    for (const m of [
      'StartRollout:OK',
      'StartRollout:PERMISSION_DENIED',
      'AbortRollout:OK',
      'AbortRollout:PERMISSION_DENIED',
      'RollbackRollout:OK',
      'GetRollout:OK',
      'WatchRollout:OK',
    ])
      assert.ok(methods.includes(m), `audit has ${m}`);
    // The driver records its events after storing the state: the last one may land a moment later.
    await eventually(
      async () =>
        (await rc.controller.app.audit.list(50, 'RolloutEvent')).some(
          (e) => e.target === 'grpc-1' && e.outcome === 'rolled-back',
        ),
      10_000,
      'rolled-back event audited',
    );
  });
});
