/**
 * Strict Liquid rendering of the policy's prompt template (Symphony SPEC §5.4): unknown variables
 * and unknown filters fail, never render as empty. The template sees `issue` (the normalized issue,
 * snake_case fields) and `attempt` (null on the first attempt, an integer on a retry). Tracker text
 * is data, not instructions (specs/policy.md, "Prompt template"; docs/architecture.md, "Untrusted text"): `issue.title` and
 * `issue.description` render already delimited as `<untrusted_tracker_text>` blocks (`delimitedIssue`).
 *
 * Owns: parsing (cached by text) and rendering. Does not own: where the template comes from
 * (load.ts) or what else goes into an agent's system prompt (the agent harness).
 */
import { Liquid } from 'liquidjs';
import type { Template } from 'liquidjs';
import { PolicyError } from '../errors.js';
import type { Issue } from '../trackers/types.js';
import { untrustedBlock, untrustedInline } from '../evidence/inert.js';

/** Used when the template body is empty (Symphony SPEC §5.4). */
export const DEFAULT_PROMPT = 'You are working on an issue from the configured tracker.';

/** Variables a prompt template sees. Callers may add more. */
export interface PromptVars {
  issue: Issue;
  /** Null on the first attempt, an integer on a retry or continuation. */
  attempt: number | null;
  [key: string]: unknown;
}

const engine = new Liquid({
  strictVariables: true,
  strictFilters: true,
  // Only the issue's own fields, never prototype members.
  ownPropertyOnly: true,
  // An in-memory (empty) template store: `{% include %}` / `{% render %}` fail instead of reading
  // files relative to whatever the daemon's cwd happens to be.
  templates: {},
});

const CACHE_LIMIT = 64;
const cache = new Map<string, Template[]>();

/**
 * Parses a prompt template (cached by its text, at most 64 kept).
 *
 * @throws PolicyError `template_parse_error` (bad syntax), `template_render_error` (an unknown
 *   filter: liquidjs finds those while parsing, Symphony SPEC §5.5 files them under render errors).
 */
export function parsePromptTemplate(template: string, opts: { file?: string } = {}): Template[] {
  const hit = cache.get(template);
  if (hit) return hit;
  let parsed: Template[];
  try {
    parsed = engine.parse(template);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const unknownFilter = /^undefined filter/.test(message);
    throw new PolicyError(
      unknownFilter ? 'template_render_error' : 'template_parse_error',
      `${where(opts.file)}prompt template: ${message}. Fix the Markdown body of the policy file${unknownFilter ? ' (only standard Liquid filters exist)' : ''}.`,
      { cause: err, file: opts.file },
    );
  }
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
  cache.set(template, parsed);
  return parsed;
}

/**
 * The issue as a template sees it: `title` as one line and `description` as a block, each wrapped
 * in `<untrusted_tracker_text source="…">` with `&`, `<`, `>` escaped (src/evidence/inert.ts), so
 * tracker text reaches the model delimited whatever the template does with it. A missing or blank
 * description stays null/blank, so `{% if issue.description %}` keeps working.
 */
export function delimitedIssue(issue: Issue): Issue {
  return {
    ...issue,
    title: untrustedInline('issue title', issue.title),
    description: issue.description?.trim() ? untrustedBlock('issue description', issue.description) : issue.description,
  };
}

/**
 * Renders the prompt for one issue. An empty (or blank) template gives DEFAULT_PROMPT. The issue's
 * title and description render delimited (`delimitedIssue`).
 *
 * @param vars - `issue` and `attempt`, plus any extra variables the caller offers.
 * @param opts.file - the policy file, named in error messages.
 * @throws PolicyError `template_parse_error`, `template_render_error` (unknown variable or filter,
 *   a filter failing). Symphony SPEC §5.5: these fail the run attempt, not the daemon.
 */
export async function renderPrompt(template: string, vars: PromptVars, opts: { file?: string } = {}): Promise<string> {
  if (template.trim() === '') return DEFAULT_PROMPT;
  const parsed = parsePromptTemplate(template, opts);
  try {
    return await engine.render(parsed, { ...vars, issue: delimitedIssue(vars.issue) });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new PolicyError(
      'template_render_error',
      `${where(opts.file)}prompt template: ${message}. Templates see issue.<field> (${ISSUE_FIELDS}) and attempt; fix the Markdown body of the policy file.`,
      { cause: err, file: opts.file },
    );
  }
}

const ISSUE_FIELDS =
  'id, identifier, title, description, priority, state, branch_name, url, assignee_id, labels, blocked_by, dispatchable, created_at, updated_at';

function where(file: string | undefined): string {
  return file ? `${file}: ` : '';
}
