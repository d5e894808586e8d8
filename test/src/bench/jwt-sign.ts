/**
 * Micro-benchmark: what the controller pays per NATS JWT, signing with native Ed25519 key pairs
 * (@launchfleet/shared/native-nkeys, the product path) versus @nats-io/nkeys' pure
 * JavaScript pairs (tweetnacl), in the same process and interleaved in chunks so machine noise
 * hits both alike. Same seeds, same claims, the controller's own encoders (nats-jwts.ts).
 *
 *   nodeJwt     the user JWT of an enrolling node (node permissions), issued by the fleet account
 *   enrollCreds a fresh user key pair + its JWT (CreateEnrollmentToken, controller/system creds)
 *   accountJwt  the fleet account JWT with 1,000 revocations (each revocation push)
 *   sign        one signature over 256 bytes
 *
 *   node test/dist/bench/jwt-sign.js [--quick] [--native=N] [--js=N]
 *
 * FLEET-RESULTS.md measured ~14.5 ms per node JWT with tweetnacl (enrolment capped at ~70/s/core).
 */
import { randomBytes } from 'node:crypto';
import { createAccount, createOperator, createUser, fromSeed, type KeyPair } from '@nats-io/nkeys';
import { type NkeyPair, createNativePair, nativeFromSeed } from '@launchfleet/shared/native-nkeys';
import {
  fleetAccountJwt,
  freshUserCreds,
  userJwt,
  enrollPermissions,
  nodePermissions,
} from '@launchfleet/controller/identity';
import { emit, intArg, machineInfo, parseArgs, type Row } from './bench-output.ts';
import { round, summarize } from './bench-stats.ts';

const { quick, values } = parseArgs(process.argv.slice(2));
const nNative = intArg(values, 'native', quick ? 300 : 2000);
const nJs = intArg(values, 'js', quick ? 20 : 100);
const chunks = 10;

interface Keys {
  readonly operator: NkeyPair;
  readonly account: NkeyPair;
  readonly newUser: () => NkeyPair;
}

const jsOperator = createOperator();
const jsAccount = createAccount();
const mustNative = (kp: KeyPair): NkeyPair => {
  const r = nativeFromSeed(kp.getSeed());
  if (!r.ok) throw new Error(r.error);
  return r.value;
};
const systems: Record<'native' | 'tweetnacl', Keys> = {
  native: {
    operator: mustNative(jsOperator),
    account: mustNative(jsAccount),
    newUser: () => createNativePair('user'),
  },
  tweetnacl: {
    operator: fromSeed(jsOperator.getSeed()),
    account: fromSeed(jsAccount.getSeed()),
    newUser: createUser,
  },
};

const nodeKeys = Array.from({ length: 64 }, () => createUser().getPublicKey());
const revocations = Object.fromEntries(
  Array.from({ length: 1000 }, (_, i) => [createNativePair('user').getPublicKey(), 1_700_000_000 + i]),
);
const message = new Uint8Array(randomBytes(256));
const nodeId = 'nabcdefghijklmnopqrst';

type Op = (k: Keys, i: number) => Promise<unknown>;
const ops: Record<string, Op> = {
  nodeJwt: (k, i) =>
    userJwt(nodeKeys[i % nodeKeys.length] ?? '', k.account, {
      name: nodeId,
      permissions: nodePermissions(nodeId),
      maxPayload: 1024 * 1024,
      maxSubs: 64,
    }),
  // freshUserCreds is the product path for native pairs; the tweetnacl one is what it did before.
  enrollCreds: async (k) => {
    if (k === systems.native)
      return freshUserCreds(k.account, { name: 'enroll', permissions: enrollPermissions() });
    const u = k.newUser();
    const jwt = await userJwt(u.getPublicKey(), k.account, {
      name: 'enroll',
      permissions: enrollPermissions(),
    });
    return `${jwt}\n${new TextDecoder().decode(u.getSeed())}`;
  },
  accountJwt: (k) => fleetAccountJwt(k.account, k.operator, revocations),
  sign: (k) => Promise.resolve(k.account.sign(message)),
};

const metrics: Record<string, number> = {};
const rows: Row[] = [];
const lines: string[] = [];
for (const [name, op] of Object.entries(ops)) {
  const samples: Record<'native' | 'tweetnacl', number[]> = { native: [], tweetnacl: [] };
  // Warm-up (JIT, KeyObject caches), not counted.
  for (const sys of ['native', 'tweetnacl'] as const) for (let i = 0; i < 3; i++) await op(systems[sys], i);
  for (let c = 0; c < chunks; c++) {
    for (const [sys, n] of [
      ['tweetnacl', nJs],
      ['native', nNative],
    ] as const) {
      const per = Math.max(1, Math.ceil(n / chunks));
      for (let i = 0; i < per; i++) {
        const t0 = process.hrtime.bigint();
        await op(systems[sys], i);
        samples[sys].push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    }
  }
  const nat = summarize(samples.native);
  const js = summarize(samples.tweetnacl);
  metrics[`native.${name}.p50Ms`] = round(nat.p50, 4);
  metrics[`native.${name}.p99Ms`] = round(nat.p99, 4);
  metrics[`native.${name}.meanMs`] = round(nat.mean, 4);
  metrics[`tweetnacl.${name}.p50Ms`] = round(js.p50, 4);
  metrics[`tweetnacl.${name}.p99Ms`] = round(js.p99, 4);
  metrics[`tweetnacl.${name}.meanMs`] = round(js.mean, 4);
  metrics[`speedup.${name}.p50`] = round(js.p50 / nat.p50, 1);
  metrics[`native.${name}.perSecond`] = round(1000 / nat.mean, 0);
  metrics[`tweetnacl.${name}.perSecond`] = round(1000 / js.mean, 0);
  rows.push({ what: `${name} speedup (tweetnacl p50 / native p50)`, unit: 'x', ours: `speedup.${name}.p50` });
  rows.push({
    what: `${name} per second (1 core)`,
    unit: '/s',
    ours: `native.${name}.perSecond`,
    anchor: `tweetnacl.${name}.perSecond`,
    anchorName: '@nats-io/nkeys (tweetnacl)',
  });
  lines.push(
    `${name}: native p50 ${round(nat.p50, 3)} ms (p99 ${round(nat.p99, 3)}, n=${nat.n}); ` +
      `tweetnacl p50 ${round(js.p50, 3)} ms (p99 ${round(js.p99, 3)}, n=${js.n}); x${round(js.p50 / nat.p50, 1)}`,
  );
}

emit({
  bench: 'jwt-sign',
  quick,
  at: new Date().toISOString(),
  machine: machineInfo(),
  params: { native: nNative, tweetnacl: nJs, chunks, revocations: 1000 },
  metrics,
  rows,
  targets: [],
  notes: [
    'Same seeds and claims for both; runs interleaved in chunks. Ed25519 is deterministic, so both sign the same bytes.',
    'enrollCreds (tweetnacl) = createUser + userJwt + seed, what freshUserCreds did before native pairs.',
    ...lines,
  ],
});
