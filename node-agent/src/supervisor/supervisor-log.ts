/** The supervisor's structured log sink, which every runtime module writes to. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Structured log sink: (level, label, message). */
export type SupervisorLog = (level: LogLevel, label: string, message: string) => void;
