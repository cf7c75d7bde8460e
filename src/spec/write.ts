/**
 * Writes the per-issue spec (authoritative under FOREMAN_HOME, src/home.ts `specFile`; copied to
 * the workspace's `.foreman/spec.md` for the agent to read): the contract of one issue's run (Goal, Scope,
 * Non-goals, Tools and permissions, Stopping condition, Evidence, Escalation, Budget, then Decisions
 * and Log), rendered from the template beside this module (./templates/issue-spec.md) with the issue and the
 * policy. docs/architecture.md explains how the spec differs from the policy.
 *
 * Owns rendering and the first write; a later run appends to the Log instead of overwriting (a human
 * may have edited the spec). Does not own reading it back (./read.ts) or the answers appended to
 * Decisions (./decisions.ts).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderPrompt } from '../config/prompt.js';
import type { Policy } from '../config/schema.js';
import type { Issue } from '../trackers/types.js';
import { safeFence, untrustedBlock, untrustedInline } from '../evidence/inert.js';

const TEMPLATE = fileURLToPath(new URL('./templates/issue-spec.md', import.meta.url));

/** The tools the implementer is given, as the spec lists them. */
export const IMPLEMENTER_TOOLS = [
  'read_file',
  'list_files',
  'search',
  'write_file',
  'edit_file',
  'run_command',
  'escalate',
  'finish',
];

/** Everything a spec is rendered from. */
export interface IssueSpecInput {
  issue: Issue;
  /** `foreman/<key>`. */
  branch: string;
  baseBranch: string;
  /** Scope globs (policy `scope`); empty: everything in scope. */
  scope: string[];
  protectedPaths: string[];
  tools: string[];
  /** The Evidence commands (policy `qa.commands`). */
  qaCommands: string[];
  qaMaxRounds: number;
  /** Model calls per agent run. */
  maxTurns: number;
  /** `max_tokens` per model call, in tokens. */
  maxTokens: number;
  /** Tokens per issue (policy `budget.max_tokens`); null: no limit. */
  budgetTokens: number | null;
  /** RFC 3339, for the Log. */
  now: string;
  runId: string;
}

/** The spec input for `issue` under `policy` (the implementer's limits, QA commands, scope). */
export function specInput(
  policy: Policy,
  o: { issue: Issue; branch: string; baseBranch: string; now: string; runId: string },
): IssueSpecInput {
  return {
    ...o,
    scope: policy.scope,
    protectedPaths: policy.protected_paths,
    tools: IMPLEMENTER_TOOLS,
    qaCommands: policy.qa.commands,
    qaMaxRounds: policy.qa.max_rounds,
    maxTurns: policy.roles.implementer.max_turns ?? policy.agent.max_turns,
    maxTokens: policy.roles.implementer.max_tokens ?? policy.model.max_tokens,
    budgetTokens: policy.budget.max_tokens ?? null,
  };
}

/**
 * Renders the spec's Markdown from structured data: the issue's title and description appear only
 * inside the Goal's fenced `<untrusted_tracker_text>` block, so no tracker text can add, remove or end a section (./read.ts reads only the rest).
 * @throws PolicyError `template_render_error` when the template cannot be rendered (a bug).
 */
export async function renderIssueSpec(input: IssueSpecInput): Promise<string> {
  const text = await renderPrompt(await fs.readFile(TEMPLATE, 'utf8'), {
    issue: input.issue,
    goal_block: goalBlock(input.issue),
    attempt: 1,
    branch: input.branch,
    base_branch: input.baseBranch,
    protected_paths: input.protectedPaths,
    scope: input.scope,
    tools: input.tools,
    qa_commands: input.qaCommands,
    qa_max_rounds: input.qaMaxRounds,
    max_turns: input.maxTurns,
    max_tokens: input.maxTokens,
    budget_tokens: input.budgetTokens,
    now: input.now,
    run_id: input.runId,
  });
  return text.endsWith('\n') ? text : `${text}\n`;
}

/** The issue's title and description as one fenced block of delimited, escaped tracker text. */
function goalBlock(issue: Issue): string {
  const parts = [untrustedInline('issue title', issue.title)];
  if (issue.description?.trim()) parts.push(untrustedBlock('issue description', issue.description));
  return safeFence(parts.join('\n'), 'text');
}

/**
 * Writes the spec to `specPath` once (atomically: temp file, then rename). When the file exists, a
 * run that has not logged itself yet appends `- <now>: run <runId> started.` to it instead.
 */
export async function writeIssueSpec(specPath: string, input: IssueSpecInput): Promise<void> {
  const existing = await fs.readFile(specPath, 'utf8').catch(() => null);
  if (existing !== null) {
    if (!existing.includes(input.runId)) await fs.appendFile(specPath, `- ${input.now}: run ${input.runId} started.\n`);
    return;
  }
  await fs.mkdir(path.dirname(specPath), { recursive: true });
  await writeAtomically(specPath, await renderIssueSpec(input));
}

/**
 * Copies the authoritative spec at `specPath` over the workspace's copy `copyPath` (atomically),
 * so the agent reads what Foreman checks against. A missing authoritative spec leaves the copy.
 */
export async function refreshSpecCopy(specPath: string, copyPath: string): Promise<void> {
  const text = await fs.readFile(specPath, 'utf8').catch(() => null);
  if (text === null) return;
  await fs.mkdir(path.dirname(copyPath), { recursive: true });
  await writeAtomically(copyPath, text);
}

/** Writes `text` to a temp file beside `file`, then renames it over `file`. */
export async function writeAtomically(file: string, text: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  await fs.writeFile(tmp, text);
  await fs.rename(tmp, file);
}
