/**
 * StartCalendarInterval (docs/launchd-semantics.md §1.5), with launchd 842's range rules (core.c:5675-5760):
 * - a negative value: warning, the field stays a wildcard, the entry is kept;
 * - a value above the maximum (or Day 0), or a non-integer: the whole entry is ignored with a
 *   warning and the job still loads (behaviour 26);
 * - Month 0 passes 842's range check and becomes a wildcard (quirk D19): kept, with a warning;
 * - Weekday 7 is Sunday, folded to 0.
 */
import type { CalendarInterval, PlistDict, PlistValue } from './job-spec.ts';
import { childPath, indexPath, isInteger, type ValueReader } from './value-reader.ts';

type Field = 'Minute' | 'Hour' | 'Day' | 'Weekday' | 'Month';

const ranges: Record<Field, readonly [number, number]> = {
  Minute: [0, 59],
  Hour: [0, 23],
  Day: [1, 31],
  Weekday: [0, 7],
  Month: [1, 12],
};
const fields = Object.keys(ranges) as Field[];
const skipEntry = 'launchd ignores this calendar entry and loads the job';

/** Reads a dict or an array of dicts; returns the usable entries. */
export function readCalendar(r: ValueReader, path: string, v: PlistValue): CalendarInterval[] {
  if (Array.isArray(v)) {
    const out: CalendarInterval[] = [];
    v.forEach((item, i) => {
      const at = indexPath(path, i);
      const dict = r.dict(at, item, 'dict', 'ignores-dict');
      if (dict === undefined) return;
      const entry = readEntry(r, at, dict);
      if (entry) out.push(entry);
    });
    return out;
  }
  const dict = r.dict(path, v, 'dict or array of dicts');
  if (dict === undefined) return [];
  const entry = readEntry(r, path, dict);
  return entry ? [entry] : [];
}

function readEntry(r: ValueReader, path: string, dict: PlistDict): CalendarInterval | undefined {
  const keys = r.subKeys(path, dict, fields, 'launchd ignores unknown calendar keys and loads the job');
  const entry: { -readonly [K in keyof CalendarInterval]: CalendarInterval[K] } = {};
  let valid = true;
  for (const [name, value] of keys) {
    const field = name as Field;
    const at = childPath(path, field);
    const [min, max] = ranges[field];
    const expected = `integer ${min}-${max}`;
    if (!isInteger(value)) {
      r.issues.wrongType(at, value, expected, 'ignores-dict', 'warning', skipEntry);
      valid = false;
      continue;
    }
    const n = typeof value === 'bigint' ? (value < 0n ? -1 : Number.MAX_SAFE_INTEGER) : value;
    if (n < 0) {
      r.issues.outOfRange(
        at,
        value,
        expected,
        'ignores-value',
        'launchd treats the field as a wildcard and loads the job',
      );
      continue;
    }
    if (field === 'Month' && n === 0) {
      r.issues.add({
        severity: 'warning',
        code: 'calendar-wildcard-quirk',
        keyPath: at,
        value,
        expected,
        what: 'Month 0 is not a month; launchd 842 reads it as "every month"',
        launchd: 'warns',
        because: 'launchd treats it as a wildcard and loads the job',
      });
      continue;
    }
    if (n > max || n < min) {
      r.issues.outOfRange(at, value, expected, 'ignores-dict', skipEntry);
      valid = false;
      continue;
    }
    switch (field) {
      case 'Minute':
        entry.minute = n;
        break;
      case 'Hour':
        entry.hour = n;
        break;
      case 'Day':
        entry.day = n;
        break;
      case 'Weekday':
        entry.weekday = n === 7 ? 0 : n;
        break;
      case 'Month':
        entry.month = n;
        break;
    }
  }
  return valid ? entry : undefined;
}
