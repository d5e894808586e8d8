export * from './job-spec-builder.ts';
export * from './fake-spawner.ts';
export * from './fake-file-system.ts';
export * from './fake-user-db.ts';
export * from './machine-sim.ts';
export * from './settle.ts';
export * from './fake-plist-loader.ts';
export * from './spawn-request.ts';
