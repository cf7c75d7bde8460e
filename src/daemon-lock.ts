/**
 * One daemon per issues folder and per FOREMAN_HOME: `foreman start` holds a lock file in each
 * (`.foreman-daemon.lock`), so a second daemon (even with its own Temporal server) refuses to start
 * instead of working every issue twice in one workspace. `foreman run` takes no lock: it coexists
 * with a daemon, as its worker only hosts what Temporal gives it (docs/architecture.md,
 * "One daemon per folder").
 */
import { hostname } from 'node:os';
import path from 'node:path';
import { mkdir, open, readFile, unlink } from 'node:fs/promises';
import { CliError } from './errors.js';
import { breakLock, pidAlive } from './file-lock.js';
import { startTimeOf } from './workspace/shell.js';

/** Name of the lock file in each locked folder. */
export const DAEMON_LOCK_FILE = '.foreman-daemon.lock';

/** What a lock file holds. */
export interface DaemonLockContent {
  pid: number;
  /** The holder's start time (/proc/<pid>/stat field 22), so a reused pid is not taken for it; null off Linux. */
  startTime: string | null;
  host: string;
  /** When the daemon took the lock, RFC 3339. */
  startedAt: string;
  /** The policy file the daemon runs. */
  policy: string;
}

/** Locks held by this process; release() removes them. */
export interface DaemonLock {
  files: string[];
  release(): Promise<void>;
}

/**
 * Takes the daemon lock in every folder of `dirs` (created when missing), all or none. A lock whose
 * holder is gone (pid dead, or alive with another start time: pid reuse) on this host is stale and
 * taken over; a lock from another host is respected.
 * @throws CliError `daemon_running` naming the holder's pid, host, start time and policy, and the
 *   lock file to delete if that holder is really gone.
 */
export async function acquireDaemonLock(dirs: string[], policy: string): Promise<DaemonLock> {
  const mine: DaemonLockContent = {
    pid: process.pid,
    startTime: startTimeOf(process.pid),
    host: hostname(),
    startedAt: new Date().toISOString(),
    policy,
  };
  const held: string[] = [];
  const release = async () => {
    while (held.length) await releaseOne(held.pop()!, mine);
  };
  try {
    for (const dir of [...new Set(dirs.map((d) => path.resolve(d)))]) {
      await mkdir(dir, { recursive: true });
      const file = path.join(dir, DAEMON_LOCK_FILE);
      await lockOne(file, mine);
      held.push(file);
    }
  } catch (err) {
    await release();
    throw err;
  }
  return { files: [...held], release };
}

async function lockOne(file: string, mine: DaemonLockContent): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const fh = await open(file, 'wx'); // O_CREAT | O_EXCL
      try {
        await fh.writeFile(JSON.stringify(mine) + '\n');
        await fh.sync();
      } finally {
        await fh.close();
      }
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const raw = await readFile(file, 'utf8').catch(() => null);
    if (raw === null) continue; // released meanwhile
    const holder = parse(raw);
    if (holder && isLive(holder)) {
      throw new CliError(
        'daemon_running',
        `Another Foreman daemon is running on ${path.dirname(file)}: pid ${holder.pid} on ${holder.host}, ` +
          `started ${holder.startedAt} with ${holder.policy}. Stop it first (kill ${holder.pid}); ` +
          `if that process is gone, delete ${file}.`,
      );
    }
    await breakLock(file, raw);
  }
  throw new CliError('daemon_running', `Could not take the daemon lock ${file}: it keeps changing. Try again.`);
}

function parse(raw: string): DaemonLockContent | null {
  try {
    const c = JSON.parse(raw) as DaemonLockContent;
    return typeof c.pid === 'number' && typeof c.host === 'string' ? c : null;
  } catch {
    return null; // half-written by a crash at the wrong moment: stale
  }
}

/** The holder still runs: another host's lock counts as live; here, the pid with the same start time. */
function isLive(c: DaemonLockContent): boolean {
  if (c.host !== hostname()) return true;
  if (!pidAlive(c.pid)) return false;
  const now = startTimeOf(c.pid);
  return c.startTime === null || now === null || now === c.startTime;
}

/** Removes `file` if it is still this process's lock. */
async function releaseOne(file: string, mine: DaemonLockContent): Promise<void> {
  const holder = parse((await readFile(file, 'utf8').catch(() => '')) || 'null');
  if (holder?.pid === mine.pid && holder.host === mine.host && holder.startedAt === mine.startedAt)
    await unlink(file).catch(() => {});
}
