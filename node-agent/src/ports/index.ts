export type * from './process-spawner.ts';
export type * from './file-system.ts';
export type * from './user-db.ts';
export type * from './socket-port.ts';
export type * from './process-adoption.ts';
