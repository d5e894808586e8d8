/**
 * The agent's log: one line per event on stderr, `<ISO time> <LEVEL> <subject>: <message>`,
 * so a service manager's journal (or a test) can read it line by line. Newlines inside a
 * message are escaped: one event is always one line.
 */
import type { LogLevel, SupervisorLog } from '../supervisor/supervisor-log.ts';

const rank: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** Parses a level name (LAUNCHFLEET_LOG); undefined if unknown. */
export function parseLogLevel(s: string | undefined): LogLevel | undefined {
  return s === 'debug' || s === 'info' || s === 'warn' || s === 'error' ? s : undefined;
}

/** One log line (without the trailing newline). */
export function formatLogLine(wallMs: number, level: LogLevel, subject: string, message: string): string {
  const text = `${subject}: ${message}`.replace(/\r?\n/g, '\\n');
  return `${new Date(wallMs).toISOString()} ${level.toUpperCase().padEnd(5)} ${text}`;
}

/** A SupervisorLog writing lines of at least `min` level to `write` (stderr by default). */
export function lineLog(
  min: LogLevel,
  write: (line: string) => void = (l) => process.stderr.write(l + '\n'),
  now: () => number = Date.now,
): SupervisorLog {
  return (level, subject, message) => {
    if (rank[level] >= rank[min]) write(formatLogLine(now(), level, subject, message));
  };
}
