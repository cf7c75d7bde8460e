/**
 * Which Temporal server a Foreman process talks to: `TEMPORAL_ADDRESS` when set, otherwise a local
 * dev server — the daemon's durable one (recorded under FOREMAN_HOME, reused across restarts, its
 * SQLite file keeping every run), or a private in-memory one for a foreground `foreman run`.
 */
import type { Logger } from '../logger.js';
import { homePaths } from '../home.js';
import { connectOrStartDevServer, startDevServer, type DevServer } from './dev-server.js';

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
 * Resolves the Temporal server. `mode: 'durable'` (daemon) reuses or starts the dev server on
 * `<home>/temporal.db`; `mode: 'ephemeral'` (foreground run) starts a private in-memory one.
 * @throws TemporalServerError `temporal_cli_missing` / `temporal_server_failed`.
 */
export async function resolveTemporal(opts: {
  env: NodeJS.ProcessEnv;
  home: string;
  namespace: string;
  mode: 'durable' | 'ephemeral';
  log: Logger;
}): Promise<TemporalTarget> {
  const address = opts.env.TEMPORAL_ADDRESS?.trim();
  const namespace = opts.env.TEMPORAL_NAMESPACE?.trim() || opts.namespace;
  if (address) return { address, namespace, devServer: null, release: async () => {} };

  const paths = homePaths(opts.home);
  const log = (line: string) => opts.log.info(line);
  const started = Date.now();
  const devServer =
    opts.mode === 'durable'
      ? await connectOrStartDevServer({
          home: opts.home,
          dbFile: paths.temporalDb,
          logFile: paths.temporalLog,
          namespace,
          log,
          env: opts.env,
          killOnExit: false, // the daemon's server outlives a crash of the daemon; the next start reuses it
        })
      : await startDevServer({ namespace, log, env: opts.env });
  opts.log.info(
    { address: devServer.address, ms: Date.now() - started, reused: !devServer.owned, db: devServer.dbFile ?? 'memory' },
    'Temporal dev server ready',
  );
  return { address: devServer.address, namespace, devServer, release: () => devServer.stop() };
}
