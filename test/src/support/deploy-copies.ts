/**
 * The e2e tests that run deploy/'s Prometheus and Alertmanager files run COPIES with only
 * addresses and timings changed; these rewrite the lines and show what else differs (the tests
 * assert nothing else does). And the crash-looping job they alert on.
 */
import assert from 'node:assert/strict';

/** Rewrites every line matching `re` with `to`; returns the text and how many lines changed. */
export function rewriteLines(
  text: string,
  re: RegExp,
  to: (m: RegExpExecArray) => string,
): { text: string; changed: number } {
  let changed = 0;
  const lines = text.split('\n').map((line) => {
    const m = re.exec(line);
    if (!m) return line;
    changed++;
    return to(m);
  });
  return { text: lines.join('\n'), changed };
}

/** Lines of `a` and `b` that differ (same line count expected). */
export function differingLines(a: string, b: string): string[] {
  const x = a.split('\n');
  const y = b.split('\n');
  assert.equal(x.length, y.length);
  return x.filter((line, i) => line !== y[i]);
}

/** A KeepAlive job that exits 1 at once, restarted every `throttleSeconds`. */
export function crashLoopPlist(label: string, throttleSeconds: number): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0"><dict>
  <key>Label</key><string>${label}</string>
  <key>ProgramArguments</key><array><string>/bin/sh</string><string>-c</string><string>exit 1</string></array>
  <key>KeepAlive</key><true/>
  <key>ThrottleInterval</key><integer>${throttleSeconds}</integer>
</dict></plist>
`;
}
