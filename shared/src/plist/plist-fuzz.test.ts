/**
 * Property tests: whatever the bytes, parsePlist returns a value or a PlistParseError, quickly,
 * and never throws; a parsed value never makes normalizeJob throw. Runs in CI: a few seconds.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { everyKey } from '../job/fixtures/plist-text.ts';
import { normalizeJob } from '../job/normalize-job.ts';
import { buildBinaryPlist } from './build-plist.ts';
import type { PlistParseErrorCode } from './parse-error.ts';
import { parsePlist } from './parse-plist.ts';

const codes = new Set<PlistParseErrorCode>([
  'too-large',
  'unreadable',
  'empty',
  'invalid-encoding',
  'not-well-formed',
  'invalid-plist',
  'invalid-binary',
  'invalid-json',
  'too-deep',
  'too-many-nodes',
]);
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const xmlSeed = enc(everyKey);
const seedValue = parsePlist(xmlSeed);
if (!seedValue.ok) throw new Error('seed does not parse');
const binarySeed = buildBinaryPlist(seedValue.value.value);
const jsonSeed = enc(
  JSON.stringify({
    Label: 'com.example.job',
    ProgramArguments: ['/bin/true'],
    KeepAlive: { SuccessfulExit: false },
  }),
);

/** Parses and checks the contract; also runs the job model over any value. */
/**
 * The parse's own CPU time is bounded (a blow-up, quadratic or worse, blows it by orders of
 * magnitude): CPU time of this process, not wall time, so a busy machine does not fail it.
 */
function checkContract(bytes: Uint8Array, budgetMs = 2000): void {
  const started = process.cpuUsage();
  const r = parsePlist(bytes);
  const used = process.cpuUsage(started);
  const elapsed = (used.user + used.system) / 1000;
  assert.ok(elapsed < budgetMs, `parse took ${elapsed.toFixed(0)} ms of CPU`);
  if (r.ok) {
    assert.ok(['xml', 'binary', 'json'].includes(r.value.format));
    const n = normalizeJob(r.value.value, { domain: 'system' });
    assert.equal(
      n.spec === undefined,
      n.issues.some((i) => i.severity === 'error'),
    );
  } else {
    assert.ok(codes.has(r.error.code), `unknown code ${r.error.code}`);
    assert.equal(typeof r.error.message, 'string');
    assert.ok(r.error.message.length > 0);
  }
}

const mutation = fc.record({
  seed: fc.constantFrom(xmlSeed, binarySeed, jsonSeed),
  flips: fc.array(fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }), { maxLength: 8 }),
  cut: fc.option(fc.nat(), { nil: undefined }),
});

describe('plist fuzz', () => {
  it('random bytes: a value or a PlistParseError, never an exception', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1024 }), (bytes) => checkContract(bytes)),
      { numRuns: 1500 },
    );
  });
  it('random bytes behind a valid magic or prefix', () => {
    const prefixes = [enc('bplist00'), enc('<?xml version="1.0"?><plist>'), enc('{"a":')];
    fc.assert(
      fc.property(fc.constantFrom(...prefixes), fc.uint8Array({ maxLength: 512 }), (prefix, tail) => {
        const bytes = new Uint8Array(prefix.length + tail.length);
        bytes.set(prefix);
        bytes.set(tail, prefix.length);
        checkContract(bytes);
      }),
      { numRuns: 300 },
    );
  });
  it('mutated valid plists (XML, binary, JSON): byte flips and truncations', () => {
    fc.assert(
      fc.property(mutation, ({ seed, flips, cut }) => {
        const bytes = Uint8Array.from(seed);
        for (const f of flips) bytes[f.at % bytes.length] = f.byte;
        checkContract(cut === undefined ? bytes : bytes.subarray(0, cut % (bytes.length + 1)));
      }),
      { numRuns: 1500 },
    );
  });
  it('deep nesting in every format', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20_000 }), fc.constantFrom('xml', 'json'), (depth, format) => {
        const text =
          format === 'xml'
            ? `<plist>${'<array>'.repeat(depth)}${'</array>'.repeat(depth)}</plist>`
            : `${'['.repeat(depth)}${']'.repeat(depth)}`;
        checkContract(enc(text));
      }),
      { numRuns: 20 },
    );
  });
  it('huge arrays stay bounded', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 400_000 }), (count) => {
        checkContract(enc(`<plist><array>${'<true/>'.repeat(count)}</array></plist>`), 3000);
      }),
      { numRuns: 4 },
    );
  });
  it('values that look like plists but use wrong types everywhere never make the job model throw', () => {
    const leaf = fc.oneof(
      fc.string(),
      fc.integer(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.boolean(),
      fc.bigInt({ min: -(1n << 70n), max: 1n << 70n }),
    );
    const value = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small' },
        leaf,
        fc.array(tie('node'), { maxLength: 4 }),
        fc.dictionary(fc.string({ maxLength: 8 }), tie('node'), { maxKeys: 4 }),
      ),
    })).node;
    const keys = [
      'Label',
      'Program',
      'ProgramArguments',
      'KeepAlive',
      'StartCalendarInterval',
      'Sockets',
      'EnvironmentVariables',
      'Umask',
      'Nice',
      'LimitLoadToSessionType',
      'Disabled',
      'OnDemand',
      'inetdCompatibility',
      'SoftResourceLimits',
      'LaunchEvents',
      'MachServices',
      'LimitLoadToHardware',
    ];
    fc.assert(
      fc.property(fc.dictionary(fc.constantFrom(...keys), value, { maxKeys: 10 }), (dict) => {
        const n = normalizeJob(dict as never, { domain: 'gui', fileName: 'x.plist' });
        assert.equal(
          n.spec === undefined,
          n.issues.some((i) => i.severity === 'error'),
        );
      }),
      { numRuns: 300 },
    );
  });
});
