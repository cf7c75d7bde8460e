/**
 * Per-key serialization of async work inside one process: two retries of one activity, or two
 * activities writing the same issue, never interleave. Owns ordering only, not cross-process locks.
 */

/** Runs `fn` once every earlier call with the same key has settled (success or failure). */
export type Serializer = <T>(key: string, fn: () => Promise<T>) => Promise<T>;

/** Creates a serializer with its own queues; the queue of a key is dropped when it drains. */
export function createSerializer(): Serializer {
  const queues = new Map<string, Promise<void>>();
  return <T>(key: string, fn: () => Promise<T>): Promise<T> => {
    const previous = queues.get(key) ?? Promise.resolve();
    const run = previous.then(fn);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    queues.set(key, tail);
    void tail.then(() => {
      if (queues.get(key) === tail) queues.delete(key);
    });
    return run;
  };
}
