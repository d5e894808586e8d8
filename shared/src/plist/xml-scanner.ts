/**
 * The XML plist parser (xml-plist.ts turns its tree into values): a strict pass over the text.
 * One file on purpose: a single hand-written pass whose position, depth and node counters every
 * production shares; split, each part would pass the scanner state around.
 *
 * Why not a general XML parser: `plist` (xmldom underneath) is lenient where launchd is strict
 * and gives no locations. The corpus judgement (docs/engineering.md, "The plist corpus") refuses what a conforming XML 1.0 parser
 * refuses: `--` inside a comment, anything before the XML declaration, an unquoted or
 * backslash-continued DOCTYPE, plus launchd's own refusal of `<true></true>` (openradar
 * 47256054). This pass checks those with line and column, enforces the depth and node caps
 * before any value is built, and keeps the exact text of every `<integer>` and `<real>` (the
 * `plist` package turns integers into lossy doubles and reals into indistinguishable numbers).
 *
 * It accepts: one optional XML declaration at offset 0, comments, processing instructions, one
 * DOCTYPE with quoted external identifiers and no internal subset, and the property-list
 * elements of Apple's DTD. Attributes are allowed (CoreFoundation ignores them).
 */
import type { PlistLimits } from './parse-options.ts';
import { PlistParseFailure, type PlistParseErrorCode } from './parse-error.ts';

/** Where a node starts in the text (1-based). */
export interface XLocation {
  readonly line: number;
  readonly column: number;
}

/** The plist structure as seen by the scanner: decoded keys and the raw text of leaves. */
export type XNode =
  | {
      readonly kind: 'dict';
      readonly offset: number;
      readonly entries: ReadonlyArray<readonly [string, XNode]>;
    }
  | { readonly kind: 'array'; readonly offset: number; readonly items: readonly XNode[] }
  | {
      readonly kind: 'string' | 'integer' | 'real' | 'date' | 'data';
      readonly offset: number;
      readonly text: string;
    }
  | { readonly kind: 'bool'; readonly offset: number; readonly value: boolean };

interface StartTag {
  readonly name: string;
  readonly offset: number;
  readonly selfClosing: boolean;
}

type KeyNode = { readonly kind: 'key'; readonly offset: number; readonly text: string };

const leafNames = new Set(['string', 'integer', 'real', 'date', 'data']);
const integerText = /^[+-]?(?:\d+|0[xX][0-9a-fA-F]+)$/;
const realText = /^(?:[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?(?:inf|infinity|nan))$/i;
const dateText = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
const base64Text = /^[A-Za-z0-9+/=\s]*$/;
// XML 1.0 Char production: no C0 controls except tab, LF and CR; no U+FFFE/U+FFFF.
// eslint-disable-next-line no-control-regex -- these are exactly the characters XML 1.0 forbids
const invalidXmlChar = /[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/;
const nameChars = /[A-Za-z0-9_:.\-\u00B7\u00C0-\uFFFD]/;
const nameStart = /[A-Za-z_:\u00C0-\uFFFD]/;

/** 1-based line and column of an offset. Only computed for errors. */
export function locate(text: string, offset: number): XLocation {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(offset, text.length);
  for (let i = 0; i < end; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: end - lineStart + 1 };
}

/** Scans a whole XML plist document and returns its root value. Throws PlistParseFailure. */
export function scanXmlPlist(text: string, limits: PlistLimits): XNode {
  return new XmlScanner(text, limits).document();
}

class XmlScanner {
  private pos = 0;
  private nodes = 0;
  private readonly text: string;
  private readonly limits: PlistLimits;

  constructor(text: string, limits: PlistLimits) {
    this.text = text;
    this.limits = limits;
  }

  document(): XNode {
    const bad = invalidXmlChar.exec(this.text);
    if (bad) {
      const code = bad[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
      this.fail('not-well-formed', `character U+${code} is not allowed in XML`, bad.index);
    }
    if (this.text.startsWith('<?xml') && /[\s?]/.test(this.text.charAt(5))) this.xmlDeclaration();
    let seenDoctype = false;
    let root: XNode | undefined;
    for (;;) {
      this.skipSpace();
      if (this.pos >= this.text.length) break;
      if (this.text.startsWith('<!--', this.pos)) this.comment();
      else if (this.text.startsWith('<?', this.pos)) this.processingInstruction();
      else if (this.text.startsWith('<!DOCTYPE', this.pos)) {
        if (seenDoctype || root) this.fail('not-well-formed', 'misplaced or repeated DOCTYPE');
        seenDoctype = true;
        this.doctype();
      } else if (this.text.charAt(this.pos) === '<' && nameStart.test(this.text.charAt(this.pos + 1))) {
        if (root) this.fail('not-well-formed', 'content after the root element');
        root = this.plistElement();
      } else {
        this.fail(
          'not-well-formed',
          root
            ? 'content after the root element'
            : `unexpected ${describeChar(this.text.charAt(this.pos))} outside the root element`,
        );
      }
    }
    if (!root) this.fail('not-well-formed', 'no root element', this.text.length);
    return root;
  }

  private plistElement(): XNode {
    const tag = this.startTag();
    if (tag.name !== 'plist') {
      this.fail('invalid-plist', `the root element is <${tag.name}>, expected <plist>`, tag.offset);
    }
    if (tag.selfClosing) this.fail('invalid-plist', 'empty <plist>: no value', tag.offset);
    const values: XNode[] = [];
    this.content('plist', tag, (child) => {
      values.push(this.value(child, 1));
    });
    const first = values[0];
    if (first === undefined) this.fail('invalid-plist', 'empty <plist>: no value', tag.offset);
    if (values.length > 1) {
      this.fail('invalid-plist', '<plist> holds more than one value', values[1]?.offset ?? tag.offset);
    }
    return first;
  }

  private value(tag: StartTag, depth: number): XNode {
    const node = this.valueOrKey(tag, depth);
    if (node.kind === 'key') this.fail('invalid-plist', '<key> outside a <dict>', tag.offset);
    return node;
  }

  private valueOrKey(tag: StartTag, depth: number): XNode | KeyNode {
    if (++this.nodes > this.limits.maxNodes) {
      this.fail('too-many-nodes', `more than ${this.limits.maxNodes} values`, tag.offset);
    }
    const { name, offset } = tag;
    switch (name) {
      case 'dict':
        return this.dict(tag, depth);
      case 'array': {
        this.checkDepth(depth, offset);
        const items: XNode[] = [];
        if (!tag.selfClosing) this.content('array', tag, (child) => items.push(this.value(child, depth + 1)));
        return { kind: 'array', offset, items };
      }
      case 'true':
      case 'false':
        if (!tag.selfClosing) {
          this.fail(
            'invalid-plist',
            `<${name}></${name}> is refused by launchd ("Invalid property list", openradar 47256054): write <${name}/>`,
            offset,
          );
        }
        return { kind: 'bool', offset, value: name === 'true' };
      case 'key': {
        const text = tag.selfClosing ? '' : this.content('key', tag);
        return { kind: 'key', offset, text };
      }
      default:
        break;
    }
    if (!leafNames.has(name)) {
      this.fail('invalid-plist', `<${name}> is not a property-list element`, offset);
    }
    const kind = name as 'string' | 'integer' | 'real' | 'date' | 'data';
    const text = tag.selfClosing ? '' : this.content(kind, tag);
    const trimmed = text.trim();
    if (kind === 'integer' && !integerText.test(trimmed)) {
      this.fail('invalid-plist', `<integer> "${clip(text)}" is not an integer`, offset);
    }
    if (kind === 'real' && !realText.test(trimmed)) {
      this.fail('invalid-plist', `<real> "${clip(text)}" is not a number`, offset);
    }
    if (kind === 'date' && (!dateText.test(trimmed) || Number.isNaN(Date.parse(trimmed)))) {
      this.fail('invalid-plist', `<date> "${clip(text)}" is not of the form YYYY-MM-DDTHH:MM:SSZ`, offset);
    }
    if (kind === 'data' && !base64Text.test(text)) {
      this.fail('invalid-plist', '<data> is not base64', offset);
    }
    return { kind, offset, text: kind === 'string' ? text : trimmed };
  }

  private dict(tag: StartTag, depth: number): XNode {
    this.checkDepth(depth, tag.offset);
    const entries: Array<readonly [string, XNode]> = [];
    if (tag.selfClosing) return { kind: 'dict', offset: tag.offset, entries };
    const seen = new Set<string>();
    let pendingKey: KeyNode | undefined;
    this.content('dict', tag, (child) => {
      const node = this.valueOrKey(child, depth + 1);
      if (pendingKey === undefined) {
        if (node.kind !== 'key') {
          this.fail(
            'invalid-plist',
            `<${child.name}> inside <dict> where a <key> was expected`,
            child.offset,
          );
        }
        if (node.text === '__proto__')
          this.fail('invalid-plist', 'the key "__proto__" is not supported', node.offset);
        if (seen.has(node.text))
          this.fail('invalid-plist', `duplicate key "${clip(node.text)}"`, node.offset);
        seen.add(node.text);
        pendingKey = node;
      } else {
        if (node.kind === 'key') {
          this.fail('invalid-plist', `key "${clip(pendingKey.text)}" has no value`, pendingKey.offset);
        }
        entries.push([pendingKey.text, node]);
        pendingKey = undefined;
      }
    });
    if (pendingKey !== undefined) {
      this.fail('invalid-plist', `key "${clip(pendingKey.text)}" has no value`, pendingKey.offset);
    }
    return { kind: 'dict', offset: tag.offset, entries };
  }

  private checkDepth(depth: number, offset: number): void {
    if (depth > this.limits.maxDepth) {
      this.fail('too-deep', `nesting deeper than ${this.limits.maxDepth} levels`, offset);
    }
  }

  /**
   * Reads the content of an open element up to its end tag. Child elements go to `onChild`
   * (which must consume them entirely); without `onChild` they are an error (leaf elements).
   * Text is returned decoded; for containers it must be whitespace.
   */
  private content(name: string, open: StartTag, onChild?: (tag: StartTag) => void): string {
    let out = '';
    const container = onChild !== undefined;
    for (;;) {
      if (this.pos >= this.text.length) {
        this.fail('not-well-formed', `<${name}> is not closed (end of input)`, open.offset);
      }
      const lt = this.text.indexOf('<', this.pos);
      if (lt !== this.pos) {
        const end = lt < 0 ? this.text.length : lt;
        const raw = this.text.slice(this.pos, end);
        if (raw.includes(']]>')) this.fail('not-well-formed', '"]]>" in text', this.pos + raw.indexOf(']]>'));
        if (container && /\S/.test(raw)) {
          const at = this.pos + raw.search(/\S/);
          this.fail('invalid-plist', `unexpected text inside <${name}>`, at);
        }
        out += this.decodeReferences(raw, this.pos);
        this.pos = end;
        continue;
      }
      if (this.text.startsWith('</', this.pos)) {
        const at = this.pos;
        this.pos += 2;
        const closing = this.name();
        this.skipSpace();
        if (this.text.charAt(this.pos) !== '>')
          this.fail('not-well-formed', `malformed end tag </${closing}`, at);
        this.pos++;
        if (closing !== name) {
          const opened = locate(this.text, open.offset);
          this.fail(
            'not-well-formed',
            `end tag </${closing}> does not match <${name}> opened at line ${opened.line}, column ${opened.column}`,
            at,
          );
        }
        return out;
      }
      if (
        name === 'key' &&
        (this.text.startsWith('<!--', this.pos) || this.text.startsWith('<?', this.pos))
      ) {
        this.fail('invalid-plist', 'a comment or processing instruction inside <key> is not supported');
      }
      if (this.text.startsWith('<!--', this.pos)) this.comment();
      else if (this.text.startsWith('<![CDATA[', this.pos)) {
        const end = this.text.indexOf(']]>', this.pos + 9);
        if (end < 0) this.fail('not-well-formed', 'unterminated CDATA section');
        if (container) this.fail('invalid-plist', `CDATA section inside <${name}>`);
        // XML's line-end normalisation applies inside CDATA sections too (XML 1.0 §2.11).
        out += this.text.slice(this.pos + 9, end).replace(/\r\n?/g, '\n');
        this.pos = end + 3;
      } else if (this.text.startsWith('<?', this.pos)) this.processingInstruction();
      else if (nameStart.test(this.text.charAt(this.pos + 1))) {
        const child = this.startTag();
        if (!onChild)
          this.fail('invalid-plist', `<${child.name}> is not allowed inside <${name}>`, child.offset);
        onChild(child);
      } else {
        this.fail('not-well-formed', `unexpected ${describeChar(this.text.charAt(this.pos + 1))} after "<"`);
      }
    }
  }

  private startTag(): StartTag {
    const offset = this.pos;
    this.pos++; // '<'
    const name = this.name();
    const attributes = new Set<string>();
    for (;;) {
      const hadSpace = this.skipSpace();
      const c = this.text.charAt(this.pos);
      if (c === '>') {
        this.pos++;
        return { name, offset, selfClosing: false };
      }
      if (c === '/' && this.text.charAt(this.pos + 1) === '>') {
        this.pos += 2;
        return { name, offset, selfClosing: true };
      }
      if (c === '') this.fail('not-well-formed', `start tag <${name}> is not closed (end of input)`, offset);
      if (!hadSpace || !nameStart.test(c)) {
        this.fail('not-well-formed', `unexpected ${describeChar(c)} in start tag <${name}>`);
      }
      const attr = this.name();
      if (attributes.has(attr)) this.fail('not-well-formed', `duplicate attribute "${attr}"`);
      attributes.add(attr);
      this.skipSpace();
      if (this.text.charAt(this.pos) !== '=')
        this.fail('not-well-formed', `attribute "${attr}" has no value`);
      this.pos++;
      this.skipSpace();
      const quote = this.text.charAt(this.pos);
      if (quote !== '"' && quote !== "'")
        this.fail('not-well-formed', `attribute "${attr}" value is not quoted`);
      const end = this.text.indexOf(quote, this.pos + 1);
      if (end < 0) this.fail('not-well-formed', `attribute "${attr}" value is not closed`);
      const raw = this.text.slice(this.pos + 1, end);
      if (raw.includes('<')) this.fail('not-well-formed', `"<" in the value of attribute "${attr}"`);
      this.decodeReferences(raw, this.pos + 1);
      this.pos = end + 1;
    }
  }

  private name(): string {
    const start = this.pos;
    if (!nameStart.test(this.text.charAt(this.pos))) {
      this.fail('not-well-formed', `expected a name, found ${describeChar(this.text.charAt(this.pos))}`);
    }
    this.pos++;
    while (this.pos < this.text.length && nameChars.test(this.text.charAt(this.pos))) this.pos++;
    return this.text.slice(start, this.pos);
  }

  private comment(): void {
    const start = this.pos;
    const end = this.text.indexOf('-->', this.pos + 4);
    if (end < 0) this.fail('not-well-formed', 'unterminated comment', start);
    const body = this.text.slice(this.pos + 4, end);
    const dashes = body.indexOf('--');
    if (dashes >= 0) {
      this.fail('not-well-formed', 'a comment contains "--" (XML 1.0 forbids it)', this.pos + 4 + dashes);
    }
    if (body.endsWith('-')) this.fail('not-well-formed', 'a comment ends with "--->"', end - 1);
    this.pos = end + 3;
  }

  private processingInstruction(): void {
    const start = this.pos;
    this.pos += 2;
    const target = this.name();
    if (target.toLowerCase() === 'xml') {
      this.fail(
        'not-well-formed',
        'the XML declaration is allowed only at the very start of the document',
        start,
      );
    }
    if (!this.skipSpace() && !this.text.startsWith('?>', this.pos)) {
      this.fail('not-well-formed', `malformed processing instruction <?${target}`, start);
    }
    const end = this.text.indexOf('?>', this.pos);
    if (end < 0) this.fail('not-well-formed', 'unterminated processing instruction', start);
    this.pos = end + 2;
  }

  private xmlDeclaration(): void {
    const end = this.text.indexOf('?>');
    if (end < 0) this.fail('not-well-formed', 'unterminated XML declaration', 0);
    const body = this.text.slice(5, end);
    const ok =
      /^\s+version\s*=\s*(["'])1\.\d+\1(?:\s+encoding\s*=\s*(["'])[A-Za-z][\w.-]*\2)?(?:\s+standalone\s*=\s*(["'])(?:yes|no)\3)?\s*$/;
    if (!ok.test(body)) this.fail('not-well-formed', 'malformed XML declaration', 0);
    this.pos = end + 2;
  }

  private doctype(): void {
    this.pos += '<!DOCTYPE'.length;
    if (!this.skipSpace()) this.fail('not-well-formed', 'DOCTYPE: expected a space after <!DOCTYPE');
    this.name();
    const spaced = this.skipSpace();
    const keyword = /^(PUBLIC|SYSTEM)/.exec(this.text.slice(this.pos, this.pos + 6));
    if (keyword && spaced) {
      this.pos += 6;
      if (!this.skipSpace()) this.fail('not-well-formed', `DOCTYPE: expected a space after ${keyword[1]}`);
      const first = this.literal(keyword[1] === 'PUBLIC' ? 'public identifier' : 'system identifier');
      const badPubid = /[^a-zA-Z0-9 \r\n'()+,./:=?;!*#@$_%-]/.exec(first.text);
      if (keyword[1] === 'PUBLIC' && badPubid) {
        this.fail(
          'not-well-formed',
          `DOCTYPE: ${describeChar(badPubid[0])} is not allowed in a public identifier`,
          first.at + badPubid.index,
        );
      }
      if (keyword[1] === 'PUBLIC') {
        if (!this.skipSpace())
          this.fail('not-well-formed', 'DOCTYPE: expected a space before the system identifier');
        this.literal('system identifier');
      }
      this.skipSpace();
    }
    const c = this.text.charAt(this.pos);
    if (c === '[')
      this.fail('not-well-formed', 'DOCTYPE internal subsets (entity declarations) are not accepted');
    if (c !== '>') this.fail('not-well-formed', `DOCTYPE: unexpected ${describeChar(c)}`);
    this.pos++;
  }

  private literal(what: string): { text: string; at: number } {
    const quote = this.text.charAt(this.pos);
    if (quote !== '"' && quote !== "'") {
      this.fail('not-well-formed', `DOCTYPE: expected the quoted ${what}, found ${describeChar(quote)}`);
    }
    const end = this.text.indexOf(quote, this.pos + 1);
    if (end < 0) this.fail('not-well-formed', `DOCTYPE: the ${what} is not closed`);
    const at = this.pos + 1;
    this.pos = end + 1;
    return { text: this.text.slice(at, end), at };
  }

  /** Decodes the five predefined entities and character references; anything else is an error. */
  private decodeReferences(raw: string, at: number): string {
    if (!raw.includes('&')) return raw.replace(/\r\n?/g, '\n');
    return raw
      .replace(/\r\n?/g, '\n')
      .replace(/&([^;&\s]{0,32});?/g, (whole: string, ref: string, i: number) => {
        if (!whole.endsWith(';')) this.fail('not-well-formed', 'a bare "&" (write &amp;)', at + i);
        switch (ref) {
          case 'amp':
            return '&';
          case 'lt':
            return '<';
          case 'gt':
            return '>';
          case 'quot':
            return '"';
          case 'apos':
            return "'";
          default:
            break;
        }
        const m = /^#(?:x([0-9a-fA-F]{1,6})|([0-9]{1,7}))$/.exec(ref);
        if (!m) this.fail('not-well-formed', `unknown entity "&${ref};"`, at + i);
        const cp = m[1] !== undefined ? parseInt(m[1], 16) : parseInt(m[2] ?? '', 10);
        const valid =
          cp === 0x9 ||
          cp === 0xa ||
          cp === 0xd ||
          (cp >= 0x20 && cp <= 0xd7ff) ||
          (cp >= 0xe000 && cp <= 0xfffd) ||
          (cp >= 0x10000 && cp <= 0x10ffff);
        if (!valid)
          this.fail('not-well-formed', `character reference "&${ref};" is not an XML character`, at + i);
        return String.fromCodePoint(cp);
      });
  }

  /** Skips XML whitespace; returns whether any was skipped. */
  private skipSpace(): boolean {
    const start = this.pos;
    while (this.pos < this.text.length) {
      const c = this.text.charCodeAt(this.pos);
      if (c !== 0x20 && c !== 0x9 && c !== 0xa && c !== 0xd) break;
      this.pos++;
    }
    return this.pos > start;
  }

  private fail(code: PlistParseErrorCode, message: string, offset: number = this.pos): never {
    const { line, column } = locate(this.text, offset);
    throw new PlistParseFailure({ code, format: 'xml', message, line, column });
  }
}

function describeChar(c: string): string {
  if (c === '') return 'end of input';
  return `"${c}"`;
}

function clip(s: string): string {
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}
