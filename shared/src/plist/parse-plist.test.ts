import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { xmlPlist } from '../job/fixtures/plist-text.ts';
import type { PlistParseErrorCode } from './parse-error.ts';
import { parsePlist } from './parse-plist.ts';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

function parseOk(text: string | Uint8Array): unknown {
  const r = parsePlist(typeof text === 'string' ? enc(text) : text);
  if (!r.ok) assert.fail(`expected a value, got ${JSON.stringify(r.error)}`);
  return r.value.value;
}

function parseErr(
  text: string | Uint8Array,
  code: PlistParseErrorCode,
  line?: number,
  column?: number,
): string {
  const r = parsePlist(typeof text === 'string' ? enc(text) : text);
  if (r.ok) assert.fail(`expected ${code}, got a value`);
  assert.equal(r.error.code, code, r.error.message);
  if (line !== undefined) assert.equal(r.error.line, line, r.error.message);
  if (column !== undefined) assert.equal(r.error.column, column, r.error.message);
  return r.error.message;
}

describe('parsePlist: XML well-formedness the corpus judges strictly', () => {
  it('refuses "--" inside a comment, with its line and column', () => {
    const text = '<?xml version="1.0"?>\n<plist>\n<!-- run with --debug -->\n<dict/></plist>';
    const msg = parseErr(text, 'not-well-formed', 3, 15);
    assert.match(msg, /comment contains "--"/);
  });
  it('refuses a comment before the XML declaration', () => {
    const text = '<!-- hello -->\n<?xml version="1.0" encoding="UTF-8"?>\n<plist><dict/></plist>';
    assert.match(parseErr(text, 'not-well-formed', 2, 1), /XML declaration/);
  });
  it('refuses unquoted DOCTYPE identifiers', () => {
    const text =
      '<?xml version="1.0"?>\n<!DOCTYPE plist PUBLIC -//Apple//DTD PLIST 1.0//EN http://www.apple.com/x.dtd>\n<plist><dict/></plist>';
    assert.match(parseErr(text, 'not-well-formed', 2, 24), /quoted public identifier/);
  });
  it('refuses a backslash after the DOCTYPE identifiers', () => {
    const text =
      '<?xml version="1.0"?>\n<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://x/y.dtd" \\\n>\n<plist><dict/></plist>';
    assert.match(parseErr(text, 'not-well-formed', 2), /"\\"/);
  });
  it('refuses <true></true> as launchd does (openradar 47256054) but accepts <true/>', () => {
    assert.match(
      parseErr(xmlPlist('<dict><key>RunAtLoad</key><true></true></dict>'), 'invalid-plist', 4),
      /openradar 47256054/,
    );
    assert.deepEqual(parseOk(xmlPlist('<dict><key>RunAtLoad</key><true /></dict>')), { RunAtLoad: true });
  });
  it('refuses DOCTYPE internal subsets (no entity expansion at all)', () => {
    parseErr(
      '<!DOCTYPE plist [<!ENTITY a "aaaa">]><plist><string>&a;</string></plist>',
      'not-well-formed',
      1,
    );
  });
  it('reports mismatched and unclosed tags with the opening location', () => {
    assert.match(
      parseErr(xmlPlist('<dict><key>a</key><string>x</dict>'), 'not-well-formed', 4),
      /does not match <string> opened at line 4/,
    );
    parseErr('<plist><dict><key>a</key>', 'not-well-formed');
  });
  it('refuses bare ampersands and unknown entities; decodes the predefined ones', () => {
    parseErr(xmlPlist('<string>a & b</string>'), 'not-well-formed', 4);
    parseErr(xmlPlist('<string>&nbsp;</string>'), 'not-well-formed', 4);
    assert.equal(parseOk(xmlPlist('<string>&lt;&amp;&#x41;&#66;&quot;</string>')), '<&AB"');
  });
  it('keeps CDATA text and single-quoted attributes (MacPorts writes them)', () => {
    assert.equal(
      parseOk(
        "<?xml version='1.0' encoding='UTF-8'?>\n<plist version='1.0'><string><![CDATA[a<b]]></string></plist>",
      ),
      'a<b',
    );
  });
  it('refuses control characters, non-plist elements, stray text and missing values', () => {
    parseErr(xmlPlist('<string>a\u0001b</string>'), 'not-well-formed', 4, 10);
    parseErr(xmlPlist('<dict><key>a</key><null/></dict>'), 'invalid-plist');
    parseErr(xmlPlist('<dict>text<key>a</key><true/></dict>'), 'invalid-plist');
    assert.match(
      parseErr(xmlPlist('<dict><key>Label</key></dict>'), 'invalid-plist'),
      /"Label" has no value/,
    );
    assert.match(
      parseErr(xmlPlist('<dict><key>a</key><true/><key>a</key><false/></dict>'), 'invalid-plist'),
      /duplicate key/,
    );
    parseErr(xmlPlist('<dict><key>__proto__</key><true/></dict>'), 'invalid-plist');
    parseErr('<plist></plist>', 'invalid-plist');
    parseErr('<plist><true/><false/></plist>', 'invalid-plist');
    parseErr('<dict/>', 'invalid-plist');
  });
  it('refuses malformed numbers and dates', () => {
    parseErr(xmlPlist('<integer>12a</integer>'), 'invalid-plist');
    parseErr(xmlPlist('<integer></integer>'), 'invalid-plist');
    parseErr(xmlPlist('<real>1.2.3</real>'), 'invalid-plist');
    parseErr(xmlPlist('<date>yesterday</date>'), 'invalid-plist');
    parseErr(xmlPlist('<date>2020-13-45T99:99:99Z</date>'), 'invalid-plist');
  });
  it('refuses constructs the two parsers would read differently, with a clear message', () => {
    assert.match(
      parseErr(xmlPlist('<dict><key>a<!-- c -->b</key><true/></dict>'), 'invalid-plist', 4),
      /inside <key>/,
    );
    parseErr('<?xml"l version="1.0"?><plist><true/></plist>', 'not-well-formed', 1);
    parseErr('<!DOCTYPE plist PUBLIC "-//App&e//DTD" "x"><plist><true/></plist>', 'not-well-formed', 1, 31);
  });
});

describe('parsePlist: values', () => {
  it('keeps integers exact: number within 2^53, bigint beyond', () => {
    const v = parseOk(
      xmlPlist(
        '<array><integer>42</integer><integer>-7</integer><integer>9007199254740993</integer><integer>-18446744073709551615</integer><integer>0x1F</integer></array>',
      ),
    );
    assert.deepEqual(v, [42, -7, 9007199254740993n, -18446744073709551615n, 31]);
  });
  it('keeps non-integral reals distinguishable from integers', () => {
    const v = parseOk(
      xmlPlist('<array><real>1.5</real><real>-2e3</real><integer>2</integer></array>'),
    ) as number[];
    assert.equal(v[0], 1.5);
    assert.equal(Number.isInteger(v[0]), false);
    assert.equal(v[1], -2000);
  });
  it('reads data, dates and nested containers', () => {
    const v = parseOk(
      xmlPlist(
        '<dict><key>d</key><data>aGVs\nbG8=</data><key>t</key><date>2024-01-02T03:04:05Z</date><key>a</key><array><dict/></array></dict>',
      ),
    ) as Record<string, unknown>;
    assert.deepEqual(v.d, new TextEncoder().encode('hello'));
    assert.equal((v.t as Date).toISOString(), '2024-01-02T03:04:05.000Z');
    assert.deepEqual(v.a, [{}]);
  });
  it('detects JSON and refuses null, trailing commas and unsafe integers', () => {
    const r = parsePlist(enc(' {"Label": "x", "N": 1.5, "A": [true]}'));
    assert.ok(r.ok);
    assert.equal(r.value.format, 'json');
    assert.deepEqual(r.value.value, { Label: 'x', N: 1.5, A: [true] });
    parseErr('{"a": null}', 'invalid-plist');
    parseErr('{"a": 1,}', 'invalid-json');
    parseErr('{"a": 12345678901234567890}', 'invalid-plist');
  });
  it('accepts a UTF-8 byte-order mark and UTF-16 with a BOM', () => {
    assert.deepEqual(parseOk(new Uint8Array([0xef, 0xbb, 0xbf, ...enc('<plist><dict/></plist>')])), {});
    const text = '<plist><string>é</string></plist>';
    const utf16 = new Uint8Array(2 + text.length * 2);
    utf16.set([0xff, 0xfe]);
    for (let i = 0; i < text.length; i++) utf16[2 + i * 2] = text.charCodeAt(i);
    assert.equal(parseOk(utf16), 'é');
  });
  it('refuses invalid UTF-8 with the offset of the first bad byte', () => {
    const bytes = new Uint8Array([...enc('<plist><string>a'), 0xc3, 0x28, ...enc('</string></plist>')]);
    const r = parsePlist(bytes);
    assert.ok(!r.ok);
    assert.equal(r.error.code, 'invalid-encoding');
    assert.equal(r.error.offset, 16);
  });
});

describe('parsePlist: resource guards', () => {
  it('refuses input over the size cap before reading it', () => {
    const r = parsePlist(new Uint8Array(2048), { maxBytes: 1024 });
    assert.ok(!r.ok);
    assert.equal(r.error.code, 'too-large');
  });
  it('refuses empty input', () => {
    parseErr(new Uint8Array(0), 'empty');
    parseErr('  \n', 'empty');
  });
  it('caps nesting depth for XML and JSON', () => {
    const deep = `<plist>${'<array>'.repeat(100)}${'</array>'.repeat(100)}</plist>`;
    parseErr(deep, 'too-deep');
    parseErr(`${'['.repeat(100)}${']'.repeat(100)}`, 'too-deep');
    assert.ok(parsePlist(enc(deep), { maxDepth: 200 }).ok);
  });
  it('caps the number of values', () => {
    const many = `<plist><array>${'<true/>'.repeat(2000)}</array></plist>`;
    const r = parsePlist(enc(many), { maxNodes: 1000 });
    assert.ok(!r.ok);
    assert.equal(r.error.code, 'too-many-nodes');
  });
});
