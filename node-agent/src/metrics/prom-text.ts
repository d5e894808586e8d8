/**
 * A small reader of the Prometheus text exposition format (version 0.0.4): enough to check what
 * the agent serves (tests, `lfctl`-style local reads), not a general client. Bad lines are
 * reported as problems, never thrown.
 */

/** One sample line. */
export interface PromSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface PromText {
  readonly samples: readonly PromSample[];
  /** Metric family name -> TYPE. */
  readonly types: ReadonlyMap<string, string>;
  /** Metric family name -> HELP. */
  readonly help: ReadonlyMap<string, string>;
  /** Lines that could not be read, with their line numbers. */
  readonly problems: readonly string[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

/** Parses an exposition; every line that is not a sample, HELP/TYPE comment or blank is a problem. */
export function parsePromText(text: string): PromText {
  const samples: PromSample[] = [];
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  const problems: string[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) ?(.*)$/.exec(line);
      if (m?.[1] === 'TYPE') types.set(m[2] ?? '', m[3] ?? '');
      else if (m?.[1] === 'HELP') help.set(m[2] ?? '', m[3] ?? '');
      return;
    }
    const s = parseSample(line);
    if (s) samples.push(s);
    else problems.push(`line ${i + 1}: ${line.slice(0, 200)}`);
  });
  return { samples, types, help, problems };
}

function parseSample(line: string): PromSample | undefined {
  const name = NAME.exec(line)?.[0];
  if (name === undefined) return undefined;
  let rest = line.slice(name.length);
  const labels: Record<string, string> = {};
  if (rest.startsWith('{')) {
    rest = rest.slice(1);
    for (;;) {
      rest = rest.trimStart();
      if (rest.startsWith('}')) {
        rest = rest.slice(1);
        break;
      }
      const ln = LABEL_NAME.exec(rest)?.[0];
      if (ln === undefined || rest[ln.length] !== '=' || rest[ln.length + 1] !== '"') return undefined;
      rest = rest.slice(ln.length + 2);
      let value = '';
      let i = 0;
      for (; i < rest.length && rest[i] !== '"'; i++) {
        const c = rest[i];
        if (c === '\\') {
          const n = rest[++i];
          value += n === 'n' ? '\n' : (n ?? '');
        } else value += c;
      }
      if (i >= rest.length) return undefined;
      labels[ln] = value;
      rest = rest.slice(i + 1);
      if (rest.startsWith(',')) rest = rest.slice(1);
      else if (!rest.startsWith('}')) return undefined;
    }
  }
  const parts = rest.trim().split(/\s+/);
  const v = parts[0];
  if (v === undefined || parts.length > 2) return undefined;
  const value = v === '+Inf' ? Infinity : v === '-Inf' ? -Infinity : v === 'NaN' ? NaN : Number(v);
  if (v === '' || (Number.isNaN(value) && v !== 'NaN')) return undefined;
  return { name, labels, value };
}

/** The samples of `name` whose labels include every given label. */
export function samplesOf(
  t: PromText,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): PromSample[] {
  return t.samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
}

/** The value of the one sample of `name` with exactly these identifying labels; undefined if none. */
export function sampleValue(
  t: PromText,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): number | undefined {
  const found = samplesOf(t, name, labels);
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return found[0]?.value;
}
