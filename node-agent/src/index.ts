export type * from './ports/index.ts';
