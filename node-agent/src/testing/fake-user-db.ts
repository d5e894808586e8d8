import type { GroupRecord, KnownAnswer, UserDb, UserRecord } from '../ports/user-db.ts';

/**
 * A fixed account table for unit tests (the real adapter reads getent). Its answers are always at
 * hand (`known*`, as a warm cache's are), unless `{ known: false }`: then only the async methods
 * answer (a cold cache, or a UserDb without `known*`).
 */
export class FakeUserDb implements UserDb {
  private readonly users: UserRecord[];
  private readonly groups: GroupRecord[];
  /** Lookups made through the async methods, in order ('u:alice', 'i:0', 'g:staff'). */
  readonly asked: string[] = [];

  constructor(
    users: readonly UserRecord[] = DEFAULT_USERS,
    groups: readonly GroupRecord[] = DEFAULT_GROUPS,
    options: { readonly known?: boolean } = {},
  ) {
    this.users = [...users];
    this.groups = [...groups];
    if (options.known === false) {
      this.knownUserByName = undefined;
      this.knownUserById = undefined;
      this.knownGroupByName = undefined;
    }
  }
  knownUserByName?: (name: string) => KnownAnswer<UserRecord> | undefined = (name) => ({
    found: this.users.find((u) => u.name === name),
  });
  knownUserById?: (uid: number) => KnownAnswer<UserRecord> | undefined = (uid) => ({
    found: this.users.find((u) => u.uid === uid),
  });
  knownGroupByName?: (name: string) => KnownAnswer<GroupRecord> | undefined = (name) => ({
    found: this.groups.find((g) => g.name === name),
  });
  userByName(name: string): Promise<UserRecord | undefined> {
    this.asked.push(`u:${name}`);
    return Promise.resolve(this.users.find((u) => u.name === name));
  }
  userById(uid: number): Promise<UserRecord | undefined> {
    this.asked.push(`i:${uid}`);
    return Promise.resolve(this.users.find((u) => u.uid === uid));
  }
  groupByName(name: string): Promise<GroupRecord | undefined> {
    this.asked.push(`g:${name}`);
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
