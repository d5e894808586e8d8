/**
 * Port: the account database (getpwnam/getgrnam). Real adapter reads it through the OS
 * (getent on Linux, dscl/id on macOS). Fake: a fixed table.
 */
export interface UserRecord {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
  readonly shell: string;
}
export interface GroupRecord {
  readonly name: string;
  readonly gid: number;
}
/** An answer at hand without waiting: `found` undefined = no such account. */
export interface KnownAnswer<T> {
  readonly found: T | undefined;
}

export interface UserDb {
  userByName(name: string): Promise<UserRecord | undefined>;
  userById(uid: number): Promise<UserRecord | undefined>;
  groupByName(name: string): Promise<GroupRecord | undefined>;
  /**
   * Optional: the answer the async method would give, when it is at hand now (a cache hit), or
   * undefined (then ask the async method). Lets a job's start fork in the turn that decided it
   * (supervisor/spawn-request.ts `spawnRequestNow`).
   */
  knownUserByName?(name: string): KnownAnswer<UserRecord> | undefined;
  knownUserById?(uid: number): KnownAnswer<UserRecord> | undefined;
  knownGroupByName?(name: string): KnownAnswer<GroupRecord> | undefined;
}
