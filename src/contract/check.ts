/**
 * The per-issue contract checked against a change: which changed paths fall outside the spec's
 * Scope globs or inside `protected_paths`.
 *
 * Owns: the glob matching and putting spec, change and policy together. Does not own: reading the
 * spec (src/spec/read.ts), listing changed files (./changes.ts) or deciding what a violation means
 * for the run (the workflow).
 */
import fs from 'node:fs/promises';
import picomatch from 'picomatch';
import { parseSpecContract } from '../spec/read.js';
import { listChangedFiles } from './changes.js';

function unique(items: string[]): string[] {
  return [...new Set(items)];
}

/** The contract (spec Scope, protected_paths, Evidence) checked against the change. */
export interface ContractCheck {
  /** Paths changed against the base branch (committed or not). */
  changedFiles: string[];
  /** Changed paths matching `protected_paths`. */
  protectedTouched: string[];
  /** Changed paths outside the spec's Scope globs. */
  outOfScope: string[];
  /** Scope globs read from the spec (empty: everything in scope). */
  scope: string[];
  /** Evidence commands the spec requires (run by QA). */
  evidence: string[];
}

/**
 * A matcher for `globs` (picomatch, `dot: true` so `.github/**` and dotfiles match). A glob ending
 * in `/` means the whole directory (`src/` as `src/**`); a leading `./` is dropped. Null when there
 * are no globs.
 */
function matcher(globs: readonly string[]): ((file: string) => boolean) | null {
  const patterns = globs
    .map((g) => g.trim().replace(/^(\.\/)+/, ''))
    .filter((g) => g !== '')
    .map((g) => (g.endsWith('/') ? `${g}**` : g));
  return patterns.length === 0 ? null : picomatch(patterns, { dot: true });
}

/** What a change violates: each list sorted and deduplicated. */
export interface ContractViolations {
  /** Changed paths matching a `protected_paths` glob. */
  protectedTouched: string[];
  /** Changed paths matching no Scope glob (always empty when the Scope has none). */
  outOfScope: string[];
}

/**
 * Checks changed paths (relative to the repository root, `/`-separated, as git prints them)
 * against the spec's Scope globs and the policy's `protected_paths` globs. An empty `scope` puts
 * everything in scope; an empty `protectedPaths` protects nothing. Never throws on odd globs:
 * picomatch treats them literally.
 */
export function checkContract(input: {
  changedFiles: readonly string[];
  scope: readonly string[];
  protectedPaths: readonly string[];
}): ContractViolations {
  const files = unique([...input.changedFiles]).sort();
  const inScope = matcher(input.scope);
  const isProtected = matcher(input.protectedPaths);
  return {
    protectedTouched: isProtected ? files.filter((f) => isProtected(f)) : [],
    outOfScope: inScope ? files.filter((f) => !inScope(f)) : [],
  };
}

/**
 * Checks the workspace's change against its contract: the Scope and Evidence of the spec at
 * `specPath` (a missing spec reads as "everything in scope, no evidence"), and `protectedPaths`,
 * for the tree Foreman would commit, against the recorded `baseCommit` (else `baseRef`'s merge base).
 * @throws WorkspaceError `base_ref_missing` when `baseRef` does not exist (./changes.ts).
 */
export async function checkWorkspaceContract(o: {
  workspace: string;
  /** The authoritative spec (under FOREMAN_HOME, src/home.ts `specFile`), never the workspace copy. */
  specPath: string;
  baseRef: string;
  /** The base commit Foreman recorded (WorkspaceInfo.baseCommit): compared exactly, `baseRef` then unused. */
  baseCommit?: string | undefined;
  protectedPaths: readonly string[];
  remote?: string;
}): Promise<ContractCheck> {
  const spec = await fs.readFile(o.specPath, 'utf8').catch(() => '');
  const { scope, evidence } = parseSpecContract(spec);
  const remote = o.remote ? { remote: o.remote } : {};
  const changedFiles = o.baseCommit
    ? await listChangedFiles(o.workspace, o.baseCommit, { exact: true, ...remote })
    : await listChangedFiles(o.workspace, o.baseRef, remote);
  const { protectedTouched, outOfScope } = checkContract({ changedFiles, scope, protectedPaths: o.protectedPaths });
  return { changedFiles, protectedTouched, outOfScope, scope, evidence };
}
