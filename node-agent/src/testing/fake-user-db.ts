import type { GroupRecord, UserDb, UserRecord } from '../ports/user-db.ts';

/** A fixed account table for unit tests (the real adapter reads getent). */
export class FakeUserDb implements UserDb {
  private readonly users: UserRecord[];
  private readonly groups: GroupRecord[];

  constructor(users: readonly UserRecord[] = DEFAULT_USERS, groups: readonly GroupRecord[] = DEFAULT_GROUPS) {
    this.users = [...users];
    this.groups = [...groups];
  }
  userByName(name: string): Promise<UserRecord | undefined> {
    return Promise.resolve(this.users.find((u) => u.name === name));
  }
  userById(uid: number): Promise<UserRecord | undefined> {
    return Promise.resolve(this.users.find((u) => u.uid === uid));
  }
  groupByName(name: string): Promise<GroupRecord | undefined> {
    return Promise.resolve(this.groups.find((g) => g.name === name));
  }
}

export const DEFAULT_USERS: readonly UserRecord[] = [
  { name: 'root', uid: 0, gid: 0, home: '/root', shell: '/bin/sh' },
  { name: 'alice', uid: 501, gid: 20, home: '/home/alice', shell: '/bin/zsh' },
  { name: 'bob', uid: 502, gid: 20, home: '/home/bob', shell: '/bin/bash' },
  { name: 'daemon', uid: 1, gid: 1, home: '/var/empty', shell: '/usr/sbin/nologin' },
];
export const DEFAULT_GROUPS: readonly GroupRecord[] = [
  { name: 'wheel', gid: 0 },
  { name: 'staff', gid: 20 },
  { name: 'daemon', gid: 1 },
  { name: 'admin', gid: 80 },
];
