/**
 * Where Foreman keeps its local state: `FOREMAN_HOME` (default `~/.foreman`). Holds the local
 * Temporal dev server's database and record, transcripts, logs and the authoritative per-issue
 * specs. Owns path layout only.
 */
import os from 'node:os';
import path from 'node:path';

/** Absolute path of Foreman's state directory: `$FOREMAN_HOME`, else `~/.foreman`. */
export function foremanHome(env: NodeJS.ProcessEnv = process.env): string {
  const configured = env.FOREMAN_HOME?.trim();
  if (configured) return path.resolve(configured.replace(/^~(?=$|\/)/, os.homedir()));
  return path.join(os.homedir(), '.foreman');
}

/** Layout of the state directory. */
export function homePaths(home: string) {
  return {
    home,
    /** SQLite file of the local Temporal dev server started by `foreman start`. */
    temporalDb: path.join(home, 'temporal.db'),
    /** Log of the local Temporal dev server. */
    temporalLog: path.join(home, 'logs', 'temporal.log'),
    /** `transcripts/<workspace key>/<run id>/<role>.jsonl` */
    transcripts: path.join(home, 'transcripts'),
    /** `specs/<workspace key>/spec.md`: the authoritative per-issue specs (the workspace holds a copy). */
    specs: path.join(home, 'specs'),
    /** `repo-cache/<name>-<hash>.git`: per-repository caches new workspaces are cloned from (src/workspace/cache.ts). */
    repoCache: path.join(home, 'repo-cache'),
  };
}

/**
 * The authoritative per-issue spec: `<home>/specs/<workspace key>/spec.md`, outside the workspace
 * so the agent cannot edit the contract; `.foreman/spec.md` in the workspace is a copy to read.
 */
export function specFile(home: string, workspaceKey: string): string {
  return path.join(homePaths(home).specs, workspaceKey, 'spec.md');
}

/** The transcript of one role in one run: `<home>/transcripts/<workspace key>/<run id>/<role>.jsonl`. */
export function transcriptPath(home: string, workspaceKey: string, runId: string, role: string): string {
  return path.join(homePaths(home).transcripts, workspaceKey, runId, `${role}.jsonl`);
}
