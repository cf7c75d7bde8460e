/**
 * The live policy: the last good load of one policy file, re-read when the file changes
 * (Symphony SPEC §6.2). An invalid edit never takes effect and never crashes the daemon: the last
 * good policy stays current and the error goes to `onError` for the operator to see.
 *
 * Owns: watching and reloading. Does not own: applying a new policy (callers read `current()` at
 * the point of use, e.g. before each dispatch tick), or parsing (load.ts).
 */
import { watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import path from 'node:path';
import { PolicyError } from '../errors.js';
import { loadPolicy } from './load.js';
import type { LoadedPolicy } from './load.js';

/** Options for createPolicyStore. */
export interface PolicyStoreOptions {
  /** Environment for `$VAR` and `~`, read again on every reload. (Default: `process.env`) */
  env?: NodeJS.ProcessEnv;
  /** Called when a reload fails; the last good policy stays current. (Default: none) */
  onError?: (error: PolicyError) => void;
  /** Called after a reload that changed the file or the resolved policy. (Default: none) */
  onReload?: (loaded: LoadedPolicy) => void;
  /** Watch the file and reload on change. (Default: true) */
  watch?: boolean;
  /** Quiet period after the last file event before reloading, in ms. (Default: 100) */
  debounceMs?: number;
}

/** A policy that follows its file. */
export interface PolicyStore {
  /** The last policy that loaded without error. */
  current(): LoadedPolicy;
  /**
   * Re-reads the file now (defensive reload, e.g. before a dispatch tick, in case a watch event
   * was missed). Resolves to the new policy, or on error to the last good one after `onError`.
   * Never rejects. Concurrent calls are serialized.
   */
  reload(): Promise<LoadedPolicy>;
  /** The error of the most recent reload, or null when it succeeded. */
  lastError(): PolicyError | null;
  /** Stops watching. Idempotent. */
  close(): void;
}

/**
 * Loads `file` and keeps it current.
 *
 * The watch is on the file's *directory*: editors save by writing a new file and renaming it over
 * the old one, which silently ends a watch on the file itself.
 *
 * @throws PolicyError any loadPolicy code when the *initial* load fails (startup must fail loudly,
 *   Symphony SPEC §6.3).
 */
export async function createPolicyStore(file: string, opts: PolicyStoreOptions = {}): Promise<PolicyStore> {
  const abs = path.resolve(file);
  const env = () => opts.env ?? process.env;
  let good = await loadPolicy(abs, { env: env() });
  let lastError: PolicyError | null = null;
  let chain: Promise<LoadedPolicy> = Promise.resolve(good);
  let watcher: FSWatcher | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const fingerprint = (p: LoadedPolicy) => `${p.digest}\n${JSON.stringify(p.policy)}\n${p.promptTemplate}`;

  async function reloadOnce(): Promise<LoadedPolicy> {
    try {
      const next = await loadPolicy(abs, { env: env(), rejectEmpty: true });
      lastError = null;
      const changed = fingerprint(next) !== fingerprint(good);
      good = next;
      if (changed) notifyReload(next);
    } catch (err) {
      lastError =
        err instanceof PolicyError
          ? err
          : new PolicyError(
              'workflow_parse_error',
              `${abs}: reload failed: ${err instanceof Error ? err.message : String(err)}`,
              {
                cause: err,
                file: abs,
              },
            );
      report(lastError);
    }
    return good;
  }

  function notifyReload(next: LoadedPolicy): void {
    try {
      opts.onReload?.(next);
    } catch {
      // The new policy is already current; a failing listener must not make reload() reject.
    }
  }

  function reload(): Promise<LoadedPolicy> {
    chain = chain.then(reloadOnce, reloadOnce);
    return chain;
  }

  function schedule(): void {
    if (closed) return;
    clearTimeout(timer);
    timer = setTimeout(() => void reload(), opts.debounceMs ?? 100);
    timer.unref();
  }

  // A throwing callback must not turn a bad edit into a crash.
  function report(error: PolicyError): void {
    try {
      opts.onError?.(error);
    } catch {
      /* the caller's problem; the store stays usable */
    }
  }

  function watchFailed(err: unknown): void {
    report(
      new PolicyError(
        'missing_workflow_file',
        `${abs}: cannot watch the policy directory (${err instanceof Error ? err.message : String(err)}); ` +
          'changes now apply only on explicit reloads.',
        { cause: err, file: abs },
      ),
    );
  }

  if (opts.watch ?? true) {
    const base = path.basename(abs);
    try {
      watcher = watch(path.dirname(abs), { persistent: false }, (_event, name) => {
        // Some platforms omit the name; reloading then is cheap and safe.
        if (name === null || name === base) schedule();
      });
      watcher.on('error', (err) => {
        // The directory went away or the watch broke: defensive reloads still work.
        watcher?.close();
        watcher = undefined;
        watchFailed(err);
      });
    } catch (err) {
      // No watch support (e.g. some network filesystems).
      watchFailed(err);
    }
  }

  return {
    current: () => good,
    reload,
    lastError: () => lastError,
    close() {
      closed = true;
      clearTimeout(timer);
      watcher?.close();
      watcher = undefined;
    },
  };
}
