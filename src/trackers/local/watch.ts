/**
 * The local tracker's folder watch: `fs.watch` on the issues folder, debounced, surviving the
 * folder being deleted and re-created.
 */
import { existsSync, mkdirSync, watch as fsWatch, type FSWatcher } from 'node:fs';
import { isWatchedName } from './files.js';

/**
 * Calls `onChange` (after `debounceMs` of quiet) when an issue or comments file in `dir` changes;
 * returns a function that stops watching. Never throws: a folder that cannot be watched is retried
 * every second.
 */
export function watchFolder(dir: string, debounceMs: number, onChange: () => void): () => void {
  let stopped = false;
  let watcher: FSWatcher | undefined;
  let debounce: NodeJS.Timeout | undefined;
  let retry: NodeJS.Timeout | undefined;
  const fire = () => {
    if (stopped) return;
    clearTimeout(debounce);
    debounce = setTimeout(() => {
      if (!stopped) onChange();
    }, debounceMs);
    debounce.unref();
  };
  // The folder may be deleted and re-created under us; keep trying instead of going deaf.
  const restartLater = () => {
    if (stopped) return;
    retry = setTimeout(start, 1000);
    retry.unref();
  };
  const lost = (w: FSWatcher) => {
    if (watcher !== w) return;
    w.close();
    watcher = undefined;
    fire();
    restartLater();
  };
  function start() {
    if (stopped) return;
    try {
      mkdirSync(dir, { recursive: true });
      const current = fsWatch(dir, { persistent: false }, (_event, name) => {
        // Linux reports the folder's own removal as a plain event, then goes silent.
        if (!existsSync(dir)) return lost(current);
        if (name === null || isWatchedName(String(name))) fire();
      });
      current.on('error', () => lost(current));
      watcher = current;
    } catch {
      restartLater();
    }
  }
  start();
  return () => {
    stopped = true;
    clearTimeout(debounce);
    clearTimeout(retry);
    watcher?.close();
  };
}
