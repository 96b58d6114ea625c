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
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import {
  accessSync,
  chownSync,
  constants,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, isAbsolute, join, resolve } from 'node:path';

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
    readonly last: number,
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

/** Processes whose uid passes `owned`, found through `/proc` (Linux). Elsewhere none are found. */
function processesOf(owned: (uid: number) => boolean, spared: ReadonlySet<number>): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  return entries
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => {
      if (spared.has(pid)) return false;
      const uid = uidOf(pid);
      return uid !== undefined && owned(uid);
    });
}

/**
 * Kills every process whose uid passes `owned`, as many rounds as it takes for forks in between to
 * run out: a killed process stays in /proc until it has died, and a new one (forked in between) is
 * killed in the next round, until a round finds nothing new. Returns how many it killed.
 */
function killAll(owned: (uid: number) => boolean, spared: ReadonlySet<number>): number {
  const killed = new Set<number>();
  for (let round = 0; round < 50; round++) {
    const found = processesOf(owned, spared).filter((pid) => !killed.has(pid));
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
  return killAll((found) => found === uid, spared);
}

/**
 * Kills every process of the uids `first`–`last`: what runs of a stack that ended without cleaning
 * up (SIGKILL, a crash, a power cut of the machine's container) left behind, before a new stack hands
 * the same uids out again. Only for a stack that holds the range alone. Root's processes are never
 * touched. Returns how many processes it killed.
 */
export function sweepUidRange(first: number, last: number): number {
  if (first <= 0) return 0;
  return killAll((uid) => uid >= first && uid <= last, new Set([process.pid]));
}

let setpriv: { readonly file: string | undefined } | undefined;

/** `setpriv` (util-linux), looked up once; `undefined` where it is missing or the system is not Linux. */
function findSetpriv(): string | undefined {
  setpriv ??= {
    file:
      process.platform === 'linux'
        ? [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/bin']
            .filter((dir) => isAbsolute(dir))
            .map((dir) => join(dir, 'setpriv'))
            .find(canExecute)
        : undefined,
  };
  return setpriv.file;
}

/** Whether this process may execute `file`. */
function canExecute(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * Whether `uid` (in group `gid`, with no other groups, as node's spawn leaves it) may execute
 * `file`, by its mode bits: `access()` answers for this process's uid, which is root here.
 */
function userCanExecute(file: string, uid: number, gid: number): boolean {
  try {
    const stat = statSync(file);
    if (!stat.isFile()) return false;
    if (stat.uid === uid) return (stat.mode & 0o100) !== 0;
    if (stat.gid === gid) return (stat.mode & 0o010) !== 0;
    return (stat.mode & 0o001) !== 0;
  } catch {
    return false;
  }
}

/**
 * The file `command` names, found as `execvp` finds it (through `PATH` unless it holds a slash), if
 * it is one the command's user may execute; `undefined` otherwise.
 */
function resolveCommand(command: string, options: SpawnOptions): string | undefined {
  const cwd = typeof options.cwd === 'string' ? options.cwd : process.cwd();
  const mayRun = (file: string) =>
    options.uid === undefined
      ? canExecute(file)
      : userCanExecute(file, options.uid, options.gid ?? options.uid);
  if (command.includes('/')) {
    const file = resolve(cwd, command);
    return mayRun(file) ? file : undefined;
  }
  const path = options.env?.PATH;
  if (!path) return undefined;
  return path
    .split(delimiter)
    .map((dir) => resolve(cwd, dir || '.', command))
    .find(mayRun);
}

/**
 * node's `spawn`, except that on Linux the command gets SIGKILL when the process that started it
 * dies, however it dies (`setpriv --pdeathsig`, util-linux): a command leads a process group of its
 * own, so without this a runner killed with SIGKILL (or a whole local stack killed at once) would
 * leave it running, and a retry would later run beside it.
 *
 * The death signal survives `exec` but is cleared by a change of uid, so it must be set after
 * node's child has dropped to the command's uid: node sets uid and gid, then execs `setpriv`,
 * which sets the signal and execs the command. Where `setpriv` is missing, or the command cannot
 * be found or run (node then reports ENOENT or EACCES itself, as the runner expects), this is
 * node's spawn unchanged.
 */
export function spawnDyingWithParent(
  command: string,
  args: readonly string[],
  options: SpawnOptions,
): ChildProcess {
  const wrapper = findSetpriv();
  const file = wrapper ? resolveCommand(command, options) : undefined;
  if (!wrapper || !file) return spawn(command, args, options);
  return spawn(wrapper, ['--pdeathsig', 'SIGKILL', '--', file, ...args], options);
}
