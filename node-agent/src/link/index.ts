export * from './credentials.ts';
export * from './enroll.ts';
export * from './node-connection.ts';
export * from './desired-watch.ts';
