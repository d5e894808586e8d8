export * from './errors.ts';
export * from './time/clock.ts';
export type * from './job/job-spec.ts';
