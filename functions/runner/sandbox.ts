/**
 * Who a command runs as, and how what it leaves behind is removed.
 *
 * A managed job's command is untrusted: it must reach no credential, token or memory of Relay's
 * (docs/design.md, "Threat model"). Where the process that starts commands is root (a Fargate
 * runner, `relay dev` run as root), each command runs as an unprivileged uid of its own, which
 * can read no other process's `/proc/<pid>/environ` or memory and signal none. Where it is not root
 * (Lambda's sandbox user, a developer's shell), the command runs as that same user, and only a
 * sandbox that is the run's alone (the executor Lambda: one command per invocation) keeps it apart.
 *
 * Whatever a command starts ends with its run: its process group is stopped, and where the uid is
 * the run's alone every process of that uid is killed, including ones that left the group with
 * `setsid`, so nothing survives into the next run of a reused sandbox.
 */
import { chownSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** How a command is kept apart from the process that starts it. */
export type Identity =
  /** The command runs as this process's user; only its process group is swept. */
  | { readonly kind: 'self' }
  /** This process is root; the command runs as `uid`, which belongs to this run alone. */
  | { readonly kind: 'user'; readonly uid: number; readonly gid: number }
  /**
   * This process and the command share a uid that belongs to this run alone (the executor Lambda's
   * sandbox): every other process of the uid, save this one and its ancestors, is the run's.
   */
  | { readonly kind: 'sandbox' };

export const SELF: Identity = { kind: 'self' };

/**
 * Uids the local stack gives commands when it runs as root, one per concurrent run. No account
 * needs to exist for them; the range is far from the ones distributions and container runtimes use.
 */
export const DEFAULT_COMMAND_UIDS = { first: 2_000_000_000, last: 2_000_000_999 } as const;

export const isRoot = (): boolean => process.getuid?.() === 0;

export type CommandUsers =
  | { readonly kind: 'one'; readonly uid: number; readonly gid: number }
  | { readonly kind: 'range'; readonly first: number; readonly last: number };

const UID = /^(\d{1,10})$/;

/**
 * Parses `RELAY_COMMAND_USER`: `uid`, `uid:gid`, or a range `first-last` (each run its own uid, all
 * of them in the group `first`). Root (0) is refused: a command never runs as root.
 */
export function parseCommandUsers(value: string): CommandUsers {
  const range = /^(\d{1,10})-(\d{1,10})$/.exec(value);
  if (range) {
    const first = Number(range[1]);
    const last = Number(range[2]);
    if (first > 0 && last >= first && last < 2 ** 32 - 1) return { kind: 'range', first, last };
  }
  const [uidText = '', gidText, ...extra] = value.split(':');
  if (UID.test(uidText) && !extra.length && (gidText === undefined || UID.test(gidText))) {
    const uid = Number(uidText);
    const gid = gidText === undefined ? uid : Number(gidText);
    if (uid > 0 && gid > 0 && uid < 2 ** 32 - 1 && gid < 2 ** 32 - 1) return { kind: 'one', uid, gid };
  }
  throw new Error(
    `RELAY_COMMAND_USER is ${JSON.stringify(value)}: give uid, uid:gid or a range first-last of ` +
      'uids other than 0 (commands never run as root)',
  );
}

/**
 * The identity commands started by this process get: as root, the configured user (or the first of
 * the default range); otherwise this process's own user.
 */
export function identityFromEnv(value: string | undefined, root: boolean = isRoot()): Identity {
  if (!root) return SELF;
  const users = value ? parseCommandUsers(value) : undefined;
  if (users?.kind === 'one') return { kind: 'user', uid: users.uid, gid: users.gid };
  const first = users?.kind === 'range' ? users.first : DEFAULT_COMMAND_UIDS.first;
  return { kind: 'user', ...rangeUser(first, first) };
}

/**
 * Who runs as a uid of the range `first-last`: that uid, in the range's one group. Files one run
 * leaves (with the group-writable umask commands get) stay writable by the runs after it, whose uids
 * differ; `/proc/<pid>/environ`, memory and signals need the same uid, so runs stay apart.
 */
export const rangeUser = (uid: number, first: number) => ({ uid, gid: first });

/**
 * The umask a command apart from its starter gets: group-writable, so the runs of one stack (one
 * group, a uid each) can share the files they write, as the runs of one user would.
 */
export const SHARED_UMASK = 0o002;

/** Hands out uids of a range, one per concurrent run, and takes them back. */
export class UidPool {
  private readonly free: number[] = [];
  private next: number;

  constructor(
    readonly first: number,
    private readonly last: number,
  ) {
    this.next = first;
  }

  /** A uid no other run holds, or `undefined` when all are taken. */
  take(): number | undefined {
    const reused = this.free.shift();
    if (reused !== undefined) return reused;
    if (this.next > this.last) return undefined;
    return this.next++;
  }

  /** `first–last`, for people. */
  describe(): string {
    return this.first === this.last ? `${this.first}` : `${this.first}–${this.last}`;
  }

  give(uid: number): void {
    if (uid >= this.first && uid <= this.last && !this.free.includes(uid)) this.free.push(uid);
  }
}

/** A place the command may write and use as `HOME`, owned by the command's user. */
export function makeHome(identity: Identity): string {
  const home = mkdtempSync(join(tmpdir(), 'relay-run-'));
  if (identity.kind === 'user') chownSync(home, identity.uid, identity.gid);
  return home;
}

export function removeHome(home: string): void {
  try {
    rmSync(home, { recursive: true, force: true });
  } catch {
    // A file the command made unremovable stays in the temporary directory; nothing depends on it.
  }
}

/**
 * The real uid of a live process, from `/proc/<pid>/status`; `undefined` if it is gone or a zombie
 * (killed already, waiting for its parent, or for init, to reap it).
 */
function uidOf(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    if (/^State:\s+[ZX]/m.test(status)) return undefined;
    const match = /^Uid:\s+(\d+)/m.exec(status);
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** This process and its ancestors, which a sandbox sweep must spare. */
function selfAndAncestors(): Set<number> {
  const spared = new Set<number>([process.pid]);
  let pid = process.ppid;
  while (pid > 1 && !spared.has(pid)) {
    spared.add(pid);
    try {
      // The parent pid is the 4th field; the command name before it may hold spaces, so split after it.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      pid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    } catch {
      break;
    }
  }
  spared.add(1);
  return spared;
}

/** Processes of `uid`, found through `/proc` (Linux). Elsewhere none are found. */
function processesOf(uid: number, spared: ReadonlySet<number>): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  return entries
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => !spared.has(pid) && uidOf(pid) === uid);
}

/**
 * Kills every process left by a run whose uid was the run's alone, as many rounds as it takes for
 * forks in between to run out. Returns how many processes it killed. A `self` identity has no uid
 * of its own to sweep: its process group was stopped already.
 */
export function sweepLeftovers(identity: Identity): number {
  if (identity.kind === 'self') return 0;
  const uid = identity.kind === 'user' ? identity.uid : process.getuid?.();
  // Never sweep root's processes: a sandbox is never root, and a command never runs as root.
  if (uid === undefined || uid === 0) return 0;
  const spared = identity.kind === 'sandbox' ? selfAndAncestors() : new Set([process.pid]);
  // A killed process stays in /proc until it has died; a new one (forked in between) is killed in
  // the next round, until a round finds nothing new.
  const killed = new Set<number>();
  for (let round = 0; round < 50; round++) {
    const found = processesOf(uid, spared).filter((pid) => !killed.has(pid));
    if (!found.length) break;
    for (const pid of found) {
      try {
        process.kill(pid, 'SIGKILL');
        killed.add(pid);
      } catch {
        // Gone already.
      }
    }
  }
  return killed.size;
}
