/**
 * Which Temporal server a Foreman process talks to: `TEMPORAL_ADDRESS` when set, otherwise the
 * local dev server on `$FOREMAN_HOME/temporal.db` — recorded under FOREMAN_HOME, reused by every
 * Foreman process and across restarts, its SQLite file keeping every run.
 */
import type { Logger } from '../logger.js';
import { homePaths } from '../home.js';
import { connectOrStartDevServer, type DevServer } from './dev-server.js';

/** A Temporal frontend to use, and how to let go of it. */
export interface TemporalTarget {
  /** `host:port`. */
  address: string;
  namespace: string;
  /** The dev server this process started, if any. */
  devServer: DevServer | null;
  /** Stops the dev server if this process owns it; a no-op otherwise. */
  release(): Promise<void>;
}

/**
 * Resolves the Temporal server: `TEMPORAL_ADDRESS`, else reuses or starts the dev server on
 * `<home>/temporal.db` (started on a free port; the caller that started it stops it on release).
 * @throws TemporalServerError `temporal_cli_missing` / `temporal_server_failed`.
 */
export async function resolveTemporal(opts: {
  env: NodeJS.ProcessEnv;
  home: string;
  namespace: string;
  log: Logger;
}): Promise<TemporalTarget> {
  const address = opts.env.TEMPORAL_ADDRESS?.trim();
  const namespace = opts.env.TEMPORAL_NAMESPACE?.trim() || opts.namespace;
  if (address) return { address, namespace, devServer: null, release: async () => {} };

  const paths = homePaths(opts.home);
  const log = (line: string) => opts.log.info(line);
  const started = Date.now();
  const devServer = await connectOrStartDevServer({
    home: opts.home,
    dbFile: paths.temporalDb,
    logFile: paths.temporalLog,
    namespace,
    log,
    env: opts.env,
    killOnExit: false, // the server outlives a crash of its starter; the next start reuses it
  });
  opts.log.info(
    { address: devServer.address, pid: devServer.pid, ms: Date.now() - started, reused: !devServer.owned, db: devServer.dbFile },
    'Temporal dev server ready',
  );
  return { address: devServer.address, namespace, devServer, release: () => devServer.stop() };
}
