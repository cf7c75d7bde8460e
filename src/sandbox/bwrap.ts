/**
 * The bubblewrap (`bwrap`) command line a sandboxed command runs under, and the probe that says
 * whether bwrap can run here. The sandbox sees the system read-only (/usr, /bin, /lib…, the parts
 * of /etc a toolchain needs, Node's prefix, PATH toolchains), the workspace read-write with its
 * `.git` read-only, a private /tmp and HOME, fresh user/pid/ipc/uts (and, unless `network: host`,
 * net) namespaces, and nothing else of the host: not FOREMAN_HOME, not the daemon's HOME, not the
 * policy file, not other workspaces. Owns the mount plan; not spawning (src/workspace/shell.ts).
 */
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { SandboxPolicy } from './policy.js';

/** HOME inside the sandbox: a private tmpfs. */
export const SANDBOX_HOME = '/home/sandbox';

/** Where Foreman's egress files (proxy socket, forwarder) appear inside the sandbox. */
export const SANDBOX_EGRESS_DIR = '/run/foreman-egress';

/** Top-level system paths bound read-only (or re-created as the same symlink) when present. */
const SYSTEM_DIRS = ['/usr', '/bin', '/sbin', '/lib', '/lib64', '/lib32', '/libx32'];

/** The parts of /etc a toolchain needs (users, DNS, TLS roots, the dynamic linker, time zone). */
const ETC_PATHS = [
  '/etc/passwd',
  '/etc/group',
  '/etc/hosts',
  '/etc/resolv.conf',
  '/etc/nsswitch.conf',
  '/etc/host.conf',
  '/etc/gai.conf',
  '/etc/ssl',
  '/etc/ca-certificates',
  '/etc/pki',
  '/etc/alternatives',
  '/etc/ld.so.cache',
  '/etc/ld.so.conf',
  '/etc/ld.so.conf.d',
  '/etc/localtime',
  '/etc/timezone',
  '/etc/mime.types',
];

/** What one sandboxed command needs to build its bwrap command line. */
export interface BwrapPlan {
  /** The workspace work tree: bound read-write; its `.git` re-bound read-only. */
  workspace: string;
  /** The environment inside (already scrubbed); HOME and TMPDIR are overridden. */
  env: Record<string, string>;
  policy: SandboxPolicy;
  /** The command line, run as `bash -c`; ignored when `argv` is given. */
  command: string;
  /** The program and its arguments, run as they are (no shell). (Default: `bash -c <command>`) */
  argv?: string[];
  /** More host paths bound into the sandbox (e.g. the model gateway's socket directory), after the workspace. */
  binds?: SandboxBind[];
  /** Working directory inside (the same path as on the host). (Default: `workspace`) */
  cwd?: string;
  /** Host directory holding the egress proxy socket and forwarder (allowlist only). */
  egressDir?: string;
  /** The daemon's HOME and FOREMAN_HOME: never bound, even when a PATH entry lies inside. */
  hidden?: string[];
  /** Runs before `bash -c <command>` inside (the forwarder, ./forwarder.ts). (Default: none) */
  argvPrefix?: string[];
}

/** A host path bound into the sandbox. */
export interface SandboxBind {
  host: string;
  /** Path inside. (Default: the same as `host`) */
  inside?: string;
  /** Read-only unless false. */
  readOnly: boolean;
}

function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** A system path as bwrap arguments: a symlink stays the same symlink, a directory or file is bound read-only. */
function systemBind(p: string): string[] {
  let st;
  try {
    st = lstatSync(p);
  } catch {
    return [];
  }
  if (st.isSymbolicLink()) return ['--symlink', readlinkSync(p), p];
  return ['--ro-bind', p, p];
}

/**
 * The toolchain directories to bind read-only: Node's prefix (the parent of the directory of
 * `process.execPath` when that is a `bin`), every PATH entry outside the system dirs (its prefix
 * when it is a `bin` directory), and `policy.roPaths`. Entries inside a hidden directory (the
 * daemon's HOME, FOREMAN_HOME) or the workspace are skipped, except Node's own prefix and roPaths.
 */
export function toolchainDirs(
  env: Record<string, string>,
  plan: Pick<BwrapPlan, 'policy' | 'hidden' | 'workspace'>,
): string[] {
  const out = new Set<string>();
  const prefixOf = (dir: string): string => {
    const base = path.basename(dir);
    const parent = path.dirname(dir);
    return (base === 'bin' || base === 'sbin') && parent !== '/' ? parent : dir;
  };
  const isSystem = (dir: string): boolean =>
    dir === '/' || SYSTEM_DIRS.some((s) => isInside(dir, s)) || isInside(dir, '/etc');
  const real = (p: string): string | null => {
    try {
      const r = realpathSync(p);
      return statSync(r).isDirectory() ? r : null;
    } catch {
      return null;
    }
  };
  const node = real(path.dirname(process.execPath));
  if (node && !isSystem(node)) out.add(prefixOf(node));
  const hidden = [...(plan.hidden ?? []), plan.workspace].map((h) => real(h) ?? h);
  for (const entry of (env.PATH ?? '').split(':')) {
    if (!path.isAbsolute(entry)) continue;
    const dir = real(entry);
    if (!dir || isSystem(dir)) continue;
    const prefix = prefixOf(dir);
    if (hidden.some((h) => isInside(prefix, h) || isInside(h, prefix))) continue;
    out.add(prefix);
  }
  for (const p of plan.policy.roPaths) {
    const dir = real(p);
    if (dir) out.add(dir);
  }
  // A directory inside another one already listed adds nothing.
  const dirs = [...out].sort();
  return dirs.filter((d) => !dirs.some((o) => o !== d && isInside(d, o)));
}

/**
 * The full `bwrap` argument list (ending in `bash -c <command>`, or `argv`) for one command, in
 * mount order: system and toolchains read-only, private /tmp and HOME, the workspace read-write,
 * then its `.git` read-only over it, then the egress directory (allowlist), then `binds`. The environment is set with
 * `--clearenv` + `--setenv`; HOME is the private one, TMPDIR is /tmp.
 */
export function bwrapArgs(plan: BwrapPlan): string[] {
  const args = ['--unshare-user', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try'];
  if (plan.policy.network !== 'host') args.push('--unshare-net');
  args.push('--die-with-parent', '--new-session', '--hostname', 'foreman-sandbox');
  args.push('--proc', '/proc', '--dev', '/dev');
  for (const dir of SYSTEM_DIRS) args.push(...systemBind(dir));
  for (const p of ETC_PATHS) if (existsSync(p)) args.push('--ro-bind', p, p);
  args.push('--tmpfs', '/tmp', '--tmpfs', SANDBOX_HOME);
  for (const dir of toolchainDirs(plan.env, plan)) args.push('--ro-bind', dir, dir);
  const ws = path.resolve(plan.workspace);
  args.push('--bind', ws, ws);
  const git = path.join(ws, '.git');
  if (existsSync(git)) args.push('--ro-bind', git, git);
  if (plan.egressDir) args.push('--ro-bind', plan.egressDir, SANDBOX_EGRESS_DIR);
  for (const b of plan.binds ?? []) args.push(b.readOnly ? '--ro-bind' : '--bind', b.host, b.inside ?? b.host);
  args.push('--chdir', path.resolve(plan.cwd ?? ws), '--clearenv');
  const env = { ...plan.env, HOME: SANDBOX_HOME, TMPDIR: '/tmp' };
  for (const [name, value] of Object.entries(env)) args.push('--setenv', name, value);
  args.push(...(plan.argvPrefix ?? []), ...(plan.argv ?? ['bash', '-c', plan.command]));
  return args;
}

/** Whether bwrap can run on this machine, and if not, why and how to fix it. */
export interface BwrapProbe {
  available: boolean;
  /** Empty when available; else what failed and the fix. */
  reason: string;
}

const FIX = 'Install bubblewrap (apt-get install bubblewrap) or set `sandbox.mode: none` in the policy.';

let probe: Promise<BwrapProbe> | null = null;

/**
 * Runs `bwrap` once (per process; the answer is cached) with the namespaces the sandbox uses and
 * `true` as the command. Never rejects: a missing binary or a kernel or container that refuses
 * user namespaces comes back as `available: false` with the reason and the fix.
 */
export function probeBwrap(): Promise<BwrapProbe> {
  probe ??= new Promise<BwrapProbe>((resolve) => {
    const args = ['--unshare-user', '--unshare-pid', '--unshare-net', '--die-with-parent', '--ro-bind', '/', '/'];
    const child = spawn('bwrap', [...args, 'true'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { PATH: process.env.PATH ?? '' },
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.once('error', (err: NodeJS.ErrnoException) => {
      const why =
        err.code === 'ENOENT'
          ? 'bwrap (bubblewrap) is not installed or not on PATH'
          : `bwrap could not start: ${err.message}`;
      resolve({ available: false, reason: `${why}. ${FIX}` });
    });
    child.once('close', (code) => {
      if (code === 0) return resolve({ available: true, reason: '' });
      const msg = stderr.trim() || `exit code ${code}`;
      resolve({
        available: false,
        reason:
          `bwrap cannot create its namespaces here (${msg}); user namespaces are disabled or blocked ` +
          `(check sysctl kernel.unprivileged_userns_clone / user.max_user_namespaces, or run the container with ` +
          `security_opt seccomp=unconfined and apparmor=unconfined). ${FIX}`,
      });
    });
  });
  return probe;
}

/** Forgets the cached {@link probeBwrap} answer (tests; after installing bubblewrap). */
export function resetBwrapProbe(): void {
  probe = null;
}

/** The daemon's HOME (hidden from the sandbox). */
export function daemonHome(): string {
  return os.homedir();
}
