/**
 * Race-free file access inside a workspace for the agent tools (src/agents/tools.ts). Node has no
 * openat, so it is emulated on Linux: every path component is opened relative to the directory
 * opened before it, through `/proc/self/fd/<dirfd>/<name>`, with O_NOFOLLOW, so a directory swapped
 * for a symlink between a check and a use can never redirect an access. Symlinks inside the
 * workspace are still followed, by resolving their target and walking it again from the root.
 * Every opened file or directory is then checked by the real path of its descriptor to be inside
 * the workspace's real path, and reads and writes go through that descriptor (writes through a
 * temporary file created O_EXCL|O_NOFOLLOW in the verified directory, renamed into place).
 *
 * Owns opening, reading, listing and writing; refuses special files (`not_a_file`) and writes to
 * hard-linked files (`file_hardlinked`). Not the tools' texts or limits (tools.ts), nor the
 * lexical path rules shared with the workspace root (src/workspace/paths.ts).
 */
import { constants, type Stats } from 'node:fs';
import { lstat, mkdir, open, readdir, readlink, rename, unlink, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { ToolError } from '../errors.js';
import { isWithin, resolveExisting } from '../workspace/paths.js';

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK, O_DIRECTORY } = constants;
/** Symlinks followed for one path, like the kernel's ELOOP limit. */
const MAX_LINKS = 40;
const DIR_FLAGS = O_RDONLY | O_DIRECTORY | O_NOFOLLOW;

/** A located path: its parent directory, opened and verified, and the entry's own name in it. */
export interface Located {
  /** The parent directory (or the root itself when `name` is null). The caller closes it. */
  dir: FileHandle;
  /** Workspace-relative components of the entry, symlinks resolved. */
  parts: string[];
  /** The entry's name in `dir`; null for the workspace root. */
  name: string | null;
  /** lstat of the entry (never a symlink), or undefined when it does not exist. */
  info: Stats | undefined;
}

/** Options of {@link locate}. */
export interface LocateOptions {
  /** For a write: `.git/` is refused. */
  write: boolean;
  /** Create missing parent directories. (Default: `write`) */
  create?: boolean;
}

/** `/proc/self/fd/<fd>/<name>`: a path that resolves `name` inside an open directory (openat). */
function at(dir: FileHandle, name?: string): string {
  return name === undefined ? `/proc/self/fd/${dir.fd}` : `/proc/self/fd/${dir.fd}/${name}`;
}

function outside(given: string, why = 'resolves outside the workspace'): ToolError {
  return new ToolError('path_outside_workspace', `Path '${given}' ${why}; use a path relative to the workspace root.`);
}

/** Workspace-relative components of `target` (absolute, or relative to `base` components). */
function partsOf(root: string, base: string[], target: string, given: string): string[] {
  let abs = path.resolve(root, ...base, target);
  if (!isWithin(root, abs) && path.isAbsolute(target)) {
    // An absolute link target may reach the workspace through another spelling of its path.
    try {
      abs = resolveExisting(abs);
    } catch {
      throw outside(given, 'has too many symbolic links');
    }
  }
  if (!isWithin(root, abs)) throw outside(given);
  const rel = path.relative(root, abs);
  return rel === '' ? [] : rel.split(path.sep);
}

/**
 * Throws `path_outside_workspace` unless the open descriptor's real path (read from
 * `/proc/self/fd`) is inside `root`: catches a directory moved out of the workspace mid-walk.
 */
export async function verifyInside(root: string, handle: FileHandle, given: string): Promise<string> {
  const real = await readlink(at(handle));
  if (!isWithin(root, real)) throw outside(given);
  return real;
}

async function lstatOrUndefined(p: string): Promise<Stats | undefined> {
  try {
    return await lstat(p);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ENOTDIR') return undefined;
    throw err;
  }
}

/** Opens one directory entry of `dir` as a directory, creating it when `create`. */
async function openChild(dir: FileHandle, name: string, create: boolean, given: string): Promise<FileHandle> {
  try {
    return await open(at(dir, name), DIR_FLAGS);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && create) {
      await mkdir(at(dir, name)).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'EEXIST') throw e;
      });
      return openChild(dir, name, false, given);
    }
    if (code === 'ENOENT') {
      throw new ToolError(
        'file_not_found',
        `No such file or directory: '${given}'. Use list_files to see what exists.`,
      );
    }
    if (code === 'ELOOP') throw outside(given, 'changed into a symbolic link while it was opened');
    if (code === 'ENOTDIR') throw new ToolError('not_a_directory', `A parent of '${given}' is not a directory.`);
    throw err;
  }
}

/**
 * Walks `given` from the workspace root without following any symlink by path: each component is
 * lstat'ed and opened inside the directory opened before it; a symlink's target is resolved and
 * walked again from the root. Missing parents are created when `opts.create`.
 *
 * @param root realpath of the workspace.
 * @param given the model-given path, relative to the workspace (or absolute inside it).
 * @throws ToolError `path_outside_workspace` (outside, through symlinks, or more than 40 links),
 *   `path_forbidden` (a write into `.git/`, symlinks resolved),
 *   `file_not_found` (a missing parent without `create`), `not_a_directory` (a parent is a file).
 */
export async function locate(root: string, given: string, opts: LocateOptions): Promise<Located> {
  let parts = partsOf(root, [], given, given);
  for (let links = 0; links <= MAX_LINKS; links++) {
    if (opts.write && (parts[0] ?? '').toLowerCase() === '.git') {
      throw new ToolError(
        'path_forbidden',
        `Writing into .git/ is not allowed ('${given}'); use git commands instead.`,
      );
    }
    const restart = await walkOnce(root, parts, opts.create ?? opts.write, given);
    if (!Array.isArray(restart)) return restart;
    parts = restart;
  }
  throw outside(given, 'has too many symbolic links');
}

/** One walk of `parts`: the located entry, or the new components when a symlink was met. */
async function walkOnce(root: string, parts: string[], create: boolean, given: string): Promise<Located | string[]> {
  let dir = await open(root, DIR_FLAGS);
  let handed = false;
  try {
    for (let i = 0; i < parts.length; i++) {
      const name = parts[i]!;
      const last = i === parts.length - 1;
      const info = await lstatOrUndefined(at(dir, name));
      if (info?.isSymbolicLink()) {
        const target = await readlink(at(dir, name)).catch((err: NodeJS.ErrnoException) => {
          // Swapped away between lstat and readlink: walk the same path again.
          if (err.code === 'EINVAL' || err.code === 'ENOENT') return null;
          throw err;
        });
        if (target === null) return parts;
        return [...partsOf(root, parts.slice(0, i), target, given), ...parts.slice(i + 1)];
      }
      if (last) {
        await verifyInside(root, dir, given);
        handed = true;
        return { dir, parts, name, info };
      }
      if (info && !info.isDirectory()) {
        throw new ToolError(
          'not_a_directory',
          `'${parts.slice(0, i + 1).join('/')}' in '${given}' is not a directory.`,
        );
      }
      const next = await openChild(dir, name, create, given);
      await dir.close();
      dir = next;
    }
    await verifyInside(root, dir, given);
    const info = await dir.stat();
    handed = true;
    return { dir, parts, name: null, info };
  } finally {
    if (!handed) await dir.close();
  }
}

function notAFile(given: string, info: Stats): ToolError {
  if (info.isDirectory()) return new ToolError('not_a_file', `'${given}' is a directory; use list_files.`);
  return new ToolError(
    'not_a_file',
    `'${given}' is not a regular file (a FIFO, socket or device); tools read and write regular files only.`,
  );
}

/**
 * Opens a located entry for reading: a regular file (non-blocking, so a FIFO swapped in cannot
 * hang the call) or, with `directory`, a directory. The descriptor is verified to be inside root.
 *
 * @throws ToolError `file_not_found`, `not_a_file` (directory or special file), `not_a_directory`,
 *   `path_outside_workspace`.
 */
export async function openForRead(
  root: string,
  loc: Located,
  given: string,
  kind: 'file' | 'directory',
): Promise<{ handle: FileHandle; info: Stats }> {
  if (loc.name === null) {
    if (kind === 'file') throw notAFile(given, loc.info!);
    // Re-opens the root through its own descriptor (a magic link, not a path: nothing to swap).
    return { handle: await open(at(loc.dir), O_RDONLY | O_DIRECTORY), info: loc.info! };
  }
  if (!loc.info) {
    throw new ToolError('file_not_found', `No such file or directory: '${given}'. Use list_files to see what exists.`);
  }
  if (kind === 'directory' && !loc.info.isDirectory()) {
    throw new ToolError('not_a_directory', `'${given}' is a file; use read_file.`);
  }
  if (kind === 'file' && !loc.info.isFile()) throw notAFile(given, loc.info);
  const flags = kind === 'directory' ? DIR_FLAGS : O_RDONLY | O_NOFOLLOW | O_NONBLOCK;
  let handle: FileHandle;
  try {
    handle = await open(at(loc.dir, loc.name), flags);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw outside(given, 'changed into a symbolic link while it was opened');
    if (code === 'ENOENT') throw new ToolError('file_not_found', `No such file or directory: '${given}'.`);
    throw err;
  }
  try {
    const info = await handle.stat();
    if (kind === 'file' && !info.isFile()) throw notAFile(given, info);
    if (kind === 'directory' && !info.isDirectory()) throw new ToolError('not_a_directory', `'${given}' is a file.`);
    await verifyInside(root, handle, given);
    return { handle, info };
  } catch (err) {
    await handle.close();
    throw err;
  }
}

/** The real path of an open descriptor (for display and for handing to the search thread). */
export async function realPathOf(handle: FileHandle): Promise<string> {
  return readlink(at(handle));
}

/** Names in an open directory (through its descriptor, not its path). */
export async function readDirectory(handle: FileHandle): Promise<import('node:fs').Dirent[]> {
  return readdir(at(handle), { withFileTypes: true });
}

/**
 * Replaces (or creates) the located file with `content`: written to a temporary file created
 * O_CREAT|O_EXCL|O_NOFOLLOW in the verified parent directory, then renamed over the entry, so no
 * byte is ever written through a path an agent could redirect. An existing file's mode is kept.
 *
 * @throws ToolError `not_a_file` (a directory or special file is there), `file_hardlinked` (the
 *   file has more than one hard link: writing would change, or silently split from, another path),
 *   `path_outside_workspace` (the parent left the workspace).
 */
export async function replaceFile(root: string, loc: Located, content: string, given: string): Promise<void> {
  if (loc.name === null) throw notAFile(given, loc.info!);
  const existing = loc.info;
  if (existing && !existing.isFile()) throw notAFile(given, existing);
  if (existing && existing.nlink > 1) throw hardlinked(given, existing.nlink);
  const tmpName = `.${loc.name}.foreman-${randomBytes(6).toString('hex')}.tmp`;
  const mode = existing ? existing.mode & 0o7777 : 0o666;
  const tmp = await open(at(loc.dir, tmpName), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
  let renamed = false;
  try {
    await tmp.writeFile(content, 'utf8');
    if (existing) await tmp.chmod(mode);
    await tmp.close();
    await verifyInside(root, loc.dir, given);
    const now = await lstatOrUndefined(at(loc.dir, loc.name));
    if (now && !now.isFile() && !now.isSymbolicLink()) throw notAFile(given, now);
    if (now && now.isFile() && now.nlink > 1) throw hardlinked(given, now.nlink);
    // rename(2) replaces the entry itself (a symlink put there meanwhile is replaced, not followed).
    await rename(at(loc.dir, tmpName), at(loc.dir, loc.name));
    renamed = true;
  } finally {
    await tmp.close().catch(() => undefined);
    if (!renamed) await unlink(at(loc.dir, tmpName)).catch(() => undefined);
  }
}

function hardlinked(given: string, nlink: number): ToolError {
  return new ToolError(
    'file_hardlinked',
    `'${given}' has ${nlink} hard links; the tools do not write files that are also reachable by another path.`,
  );
}
