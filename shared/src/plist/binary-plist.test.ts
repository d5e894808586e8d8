import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseBuffer } from 'bplist-parser';
import type { PlistValue } from '../job/job-spec.ts';
import { buildBinaryPlist, buildXmlPlist } from './build-plist.ts';
import type { PlistParseErrorCode } from './parse-error.ts';
import { parsePlist } from './parse-plist.ts';

/**
 * Assembles a bplist00 file from already-encoded objects, so tests can write structures no
 * writer would produce (cycles, bad references, lying trailers).
 */
function bplist(
  objects: number[][],
  opts: { top?: number; numObjects?: bigint; refSize?: number; tableOffset?: bigint } = {},
): Uint8Array {
  const head = [...'bplist00'].map((c) => c.charCodeAt(0));
  const body: number[] = [];
  const offsets: number[] = [];
  for (const o of objects) {
    offsets.push(head.length + body.length);
    body.push(...o);
  }
  const table = head.length + body.length;
  const out = new Uint8Array(table + offsets.length * 2 + 32);
  out.set(head, 0);
  out.set(body, head.length);
  const view = new DataView(out.buffer);
  offsets.forEach((o, i) => view.setUint16(table + i * 2, o));
  const t = out.length - 32;
  view.setUint8(t + 6, 2);
  view.setUint8(t + 7, opts.refSize ?? 1);
  view.setBigUint64(t + 8, opts.numObjects ?? BigInt(objects.length));
  view.setBigUint64(t + 16, BigInt(opts.top ?? 0));
  view.setBigUint64(t + 24, opts.tableOffset ?? BigInt(table));
  return out;
}

const ascii = (s: string): number[] => [0x50 | s.length, ...[...s].map((c) => c.charCodeAt(0))];

function expectError(bytes: Uint8Array, code: PlistParseErrorCode, pattern?: RegExp): void {
  const started = performance.now();
  const r = parsePlist(bytes);
  assert.ok(performance.now() - started < 1000, 'the guard must answer quickly');
  if (r.ok) assert.fail(`expected ${code}, got a value`);
  assert.equal(r.error.code, code, r.error.message);
  assert.equal(r.error.format, 'binary');
  if (pattern) assert.match(r.error.message, pattern);
}

describe('binary plists: hostile structure', () => {
  it('refuses an array that contains itself', () => {
    expectError(bplist([[0xa1, 0x00]]), 'invalid-binary', /cyclic/);
  });
  it('refuses a dictionary that contains itself through a child', () => {
    // 0: {a: 1}, 1: [0]
    expectError(bplist([[0xd1, 0x02, 0x01], [0xa1, 0x00], ascii('a')]), 'invalid-binary', /cyclic/);
  });
  it('refuses shared-object expansion that would blow up (each level references the next twice)', () => {
    const levels = 60;
    const objects: number[][] = [];
    for (let i = 0; i < levels; i++) objects.push([0xa2, i + 1, i + 1]);
    objects.push([0x09]);
    expectError(bplist(objects), 'too-many-nodes');
  });
  it('refuses references, offsets and trailers that point outside the file', () => {
    expectError(bplist([[0xa1, 0x05]]), 'invalid-binary', /reference 5 is out of range/);
    expectError(bplist([[0x09]], { numObjects: 1n << 40n }), 'too-many-nodes');
    expectError(bplist([[0x09]], { top: 3 }), 'invalid-binary', /top object/);
    expectError(bplist([[0x09]], { tableOffset: 1n << 50n }), 'invalid-binary', /offset table/);
    expectError(bplist([[0x5f, 0x13, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]]), 'invalid-binary');
  });
  it('refuses truncated files, null, UIDs, sets and unknown markers', () => {
    const good = buildBinaryPlist({ Label: 'com.example.job' });
    for (const cut of [8, 20, good.length - 1, good.length - 33]) {
      const r = parsePlist(good.subarray(0, cut));
      assert.ok(!r.ok, `cut at ${cut}`);
    }
    expectError(bplist([[0x00]]), 'invalid-binary', /null/);
    expectError(bplist([[0x80, 0x01]]), 'invalid-binary');
    expectError(bplist([[0xc1, 0x00]]), 'invalid-binary');
    expectError(bplist([[0x70]]), 'invalid-binary');
  });
  it('refuses non-string keys, duplicate keys and "__proto__"', () => {
    expectError(
      bplist([
        [0xd1, 0x01, 0x01],
        [0x10, 0x01],
      ]),
      'invalid-binary',
      /key is not a string/,
    );
    expectError(bplist([[0xd2, 0x01, 0x01, 0x02, 0x02], ascii('k'), [0x09]]), 'invalid-binary', /duplicate/);
    expectError(bplist([[0xd1, 0x01, 0x02], ascii('__proto__'), [0x09]]), 'invalid-binary', /__proto__/);
  });
});

describe('binary plists: values', () => {
  it('reads 8-byte integers exactly (bigint beyond 2^53, negative as signed)', () => {
    const big = [0x13, 0x10, 0, 0, 0, 0, 0, 0, 1]; // 2^60 + 1
    const neg = [0x13, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]; // -2
    const r = parsePlist(bplist([[0xa2, 0x01, 0x02], big, neg]));
    assert.ok(r.ok);
    assert.deepEqual(r.value.value, [(1n << 60n) + 1n, -2]);
  });
  it('round-trips every value kind through buildBinaryPlist, and bplist-parser agrees', () => {
    const value: PlistValue = {
      Label: 'com.example.job',
      unicode: 'héllo ✓',
      ints: [0, 255, 65536, -1, -2147483649, 4294967296, 9007199254740993n],
      real: 1.5,
      yes: true,
      no: false,
      data: new Uint8Array([1, 2, 3]),
      when: new Date('2024-05-06T07:08:09Z'),
      nested: { a: [{ b: 'c' }] },
    };
    const bytes = buildBinaryPlist(value);
    const r = parsePlist(bytes);
    assert.ok(r.ok, r.ok ? '' : r.error.message);
    assert.equal(r.value.format, 'binary');
    assert.deepEqual(r.value.value, value);
    const cross = parseBuffer(Buffer.from(bytes))[0] as Record<string, unknown>;
    assert.equal(cross.unicode, 'héllo ✓');
    assert.equal(cross.real, 1.5);
  });
  it('uses plist 5 for small integers and still round-trips the plain case', () => {
    const value: PlistValue = {
      Label: 'x',
      ProgramArguments: ['/bin/echo', 'hi'],
      Nice: -5,
      RunAtLoad: true,
    };
    const r = parsePlist(buildBinaryPlist(value));
    assert.ok(r.ok);
    assert.deepEqual(r.value.value, value);
  });
  it('binary -> XML -> parse gives the same value', () => {
    const value: PlistValue = {
      Label: 'x',
      Sockets: { L: [{ SockServiceName: 80 }] },
      big: 1n << 62n,
      r: 0.25,
    };
    const fromBinary = parsePlist(buildBinaryPlist(value));
    assert.ok(fromBinary.ok);
    const xml = buildXmlPlist(fromBinary.value.value);
    const fromXml = parsePlist(new TextEncoder().encode(xml));
    assert.ok(fromXml.ok);
    assert.equal(fromXml.value.format, 'xml');
    assert.deepEqual(fromXml.value.value, value);
  });
});

describe('XML writing of large doubles', () => {
  it('a real too large for <integer> text is written as its exact integer', () => {
    const xml = buildXmlPlist({ big: 1e21, neg: -1e300 });
    const r = parsePlist(new TextEncoder().encode(xml));
    assert.ok(r.ok, r.ok ? '' : r.error.message);
    assert.deepEqual(r.value.value, { big: 10n ** 21n, neg: BigInt(-1e300) });
  });
});
