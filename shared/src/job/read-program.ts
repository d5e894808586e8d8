/**
 * The keys launchd refuses a job over (docs/launchd-semantics.md §1.1, behaviour 40): Label, and what to
 * execute.
 */
import type { PlistValue } from './job-spec.ts';
import { indexPath, type ValueReader } from './value-reader.ts';

/** launchd-842 `jobmgr_label_test`: the prefixes are compared case-insensitively. */
const reservedPrefixes = ['com.apple.launchd', 'com.apple.launchctl'];

/** Checks Label; returns it when the job may load under it. */
export function checkLabel(r: ValueReader, v: PlistValue | undefined): string | undefined {
  if (v === undefined) {
    r.issues.add({
      severity: 'error',
      code: 'missing-label',
      keyPath: 'Label',
      expected: 'string',
      what: 'Label is missing',
      launchd: 'refuses',
    });
    return undefined;
  }
  if (typeof v !== 'string') {
    r.issues.wrongType('Label', v, 'string', 'refuses');
    return undefined;
  }
  const refuse = (code: 'invalid-label' | 'reserved-label', what: string): undefined => {
    r.issues.add({ severity: 'error', code, keyPath: 'Label', value: v, what, launchd: 'refuses' });
    return undefined;
  };
  if (v === '') return refuse('invalid-label', 'Label is empty');
  if (v.includes('\0')) {
    // launchd reads labels as C strings, so it would silently load this job under a shorter label.
    r.issues.add({
      severity: 'error',
      code: 'unsafe-label',
      keyPath: 'Label',
      value: v,
      what: 'Label contains a NUL character',
      launchd: 'accepts',
      because:
        'launchd would load it under the label cut at the NUL, but Launchfleet refuses it: labels become file names and NATS subject tokens',
    });
    return undefined;
  }
  // eslint-disable-next-line no-control-regex
  const control = /[\x00-\x1f\x7f]/.exec(v);
  if (control) {
    const code = control[0].charCodeAt(0).toString(16).padStart(2, '0');
    return refuse('invalid-label', `Label contains the control character 0x${code}`);
  }
  const lower = v.toLowerCase();
  const prefix = reservedPrefixes.find((p) => lower.startsWith(p));
  if (prefix !== undefined)
    return refuse('reserved-label', `Label starts with the reserved prefix "${prefix}"`);
  if (v.includes('/') || /^\.+$/.test(v)) {
    r.issues.add({
      severity: 'error',
      code: 'unsafe-label',
      keyPath: 'Label',
      value: v,
      what: v.includes('/') ? 'Label contains "/"' : 'Label is only dots',
      launchd: 'accepts',
      because:
        'launchd would load it, but Launchfleet refuses it: labels become file names and NATS subject tokens, where this would escape the directory or the subject',
    });
    return undefined;
  }
  return v;
}

/** What to execute, as JobSpec holds it. */
export interface ProgramSpec {
  readonly program: string;
  readonly programIsExplicit: boolean;
  readonly programArguments: readonly string[];
}

/**
 * Program, ProgramArguments and BundleProgram. Both Program and ProgramArguments may be given
 * (Program is then the executable and ProgramArguments the whole argv, argv[0] included).
 */
export function checkProgram(
  r: ValueReader,
  program: PlistValue | undefined,
  args: PlistValue | undefined,
  bundleProgram: PlistValue | undefined,
): ProgramSpec | undefined {
  let argv: string[] | undefined;
  if (args !== undefined) {
    if (!Array.isArray(args)) {
      r.issues.wrongType('ProgramArguments', args, 'array of strings', 'refuses');
    } else {
      const bad = args.findIndex((a) => typeof a !== 'string');
      if (bad >= 0) {
        const item = args[bad] as PlistValue;
        r.issues.wrongType(indexPath('ProgramArguments', bad), item, 'string', 'refuses');
      } else argv = args as string[];
    }
  }
  const usableArgv = argv !== undefined && argv.length > 0 ? argv : undefined;
  if (argv !== undefined && argv.length === 0 && typeof program !== 'string') {
    r.issues.add({
      severity: 'error',
      code: 'missing-program',
      keyPath: 'ProgramArguments',
      value: argv,
      expected: 'at least one element',
      what: 'ProgramArguments is empty and there is no Program',
      launchd: 'refuses',
    });
    return undefined;
  }

  let explicit: string | undefined;
  if (program !== undefined) {
    if (typeof program !== 'string') {
      // Modern launchd logs "Object is wrong type" and uses ProgramArguments (outset PR #63).
      r.issues.wrongType(
        'Program',
        program,
        'string (absolute path)',
        usableArgv ? 'ignores-value' : 'refuses',
      );
    } else if (!program.startsWith('/')) {
      r.issues.add({
        severity: 'error',
        code: 'program-not-absolute',
        keyPath: 'Program',
        value: program,
        expected: 'absolute path',
        what: `Program "${program}" is not an absolute path ("Invalid or missing Program/ProgramArguments")`,
        launchd: 'refuses',
      });
      return undefined;
    } else explicit = program;
  }
  if (bundleProgram !== undefined && typeof bundleProgram !== 'string') {
    r.issues.wrongType('BundleProgram', bundleProgram, 'string', 'ignores-value');
  }

  if (explicit !== undefined) {
    return { program: explicit, programIsExplicit: true, programArguments: usableArgv ?? [explicit] };
  }
  const first = usableArgv?.[0];
  if (usableArgv !== undefined && first !== undefined) {
    return { program: first, programIsExplicit: false, programArguments: usableArgv };
  }
  if (program === undefined && args === undefined) {
    r.issues.add({
      severity: 'error',
      code: 'missing-program',
      keyPath: 'Program',
      what:
        typeof bundleProgram === 'string'
          ? 'only BundleProgram is given, which needs SMAppService; Launchfleet needs Program or ProgramArguments'
          : 'neither Program nor ProgramArguments is given',
      launchd: 'refuses',
    });
  }
  return undefined;
}
