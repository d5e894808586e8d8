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
export interface UserDb {
  userByName(name: string): Promise<UserRecord | undefined>;
  userById(uid: number): Promise<UserRecord | undefined>;
  groupByName(name: string): Promise<GroupRecord | undefined>;
}
