export { FakeClock } from './fake-clock.ts';
export { withTempDir } from './temp-dir.ts';
