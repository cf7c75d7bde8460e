/**
 * Reads the per-issue spec back: the Scope globs and Evidence commands of `.foreman/spec.md` (the
 * format src/spec/templates/issue-spec.md writes, possibly edited by a human).
 *
 * Owns the two section formats. Does not own writing the spec (./write.ts) or checking a change
 * against it (src/contract/check.ts).
 */

/** What the spec's Scope and Evidence sections require. */
export interface SpecContract {
  /** Globs (picomatch) from the Scope section's `- Paths:` line(s); empty: everything in scope. */
  scope: string[];
  /** Commands listed in the Evidence section, in order. */
  evidence: string[];
}

const HEADING = /^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/;
const FENCE = /^ {0,3}(`{3,}|~{3,})/;
const LIST_ITEM = /^[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+(.*?)[ \t]*$/;
const PATHS_LINE = /^[ \t]*[-*+][ \t]+paths:(.*)$/i;
const CODE_SPAN = /`([^`]+)`/g;

/**
 * The lines of each level-2 section (`## Name`, name lowercased), first occurrence only: Decisions
 * appended later cannot replace the contract. A section ends at the next level-1 or level-2
 * heading; headings and list items inside fenced code blocks are text, not structure. Returned
 * lines have fenced blocks removed.
 */
function sections(markdown: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current: string[] | null = null;
  let fence: string | null = null;
  for (const line of markdown.split(/\r?\n/)) {
    const open = FENCE.exec(line);
    if (fence) {
      if (open && open[1]!.startsWith(fence) && line.trim() === open[1]) fence = null;
      continue;
    }
    if (open) {
      fence = open[1]!;
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading && heading[1]!.length <= 2) {
      const name = heading[2]!.trim().toLowerCase();
      current = heading[1]!.length === 2 && !out.has(name) ? [] : null;
      if (current) out.set(name, current);
      continue;
    }
    current?.push(line);
  }
  return out;
}

/**
 * The content of `text` when it is exactly one Markdown code span (`` `cmd` `` or
 * ``` `` cmd with ` `` ```), else null. CommonMark: one space on each side is stripped when both
 * are there.
 */
function singleCodeSpan(text: string): string | null {
  const fence = /^`+/.exec(text)?.[0];
  if (!fence || text.length <= fence.length * 2 || !text.endsWith(fence)) return null;
  let inner = text.slice(fence.length, -fence.length);
  if (inner.startsWith('`') || inner.endsWith('`')) return null;
  if ((inner.match(/`+/g) ?? []).some((run) => run.length === fence.length)) return null;
  if (inner.length > 2 && inner.startsWith(' ') && inner.endsWith(' ')) inner = inner.slice(1, -1);
  const command = inner.trim();
  return command === '' ? null : command;
}

function unique(items: string[]): string[] {
  return [...new Set(items)];
}

/**
 * Reads the contract from a per-issue spec (src/spec/templates/issue-spec.md format, possibly edited by a
 * human). Scope: every backticked token on a `- Paths:` line of the `## Scope` section is a glob;
 * prose around them is ignored, so "- Paths: everything in the repository" gives `[]` (everything
 * in scope). Evidence: every list item of the `## Evidence` section whose whole text is one code
 * span (`` - `npm test` ``) is a command. Missing sections give `[]`. Both lists deduplicated, in
 * order of appearance. Never throws.
 */
export function parseSpecContract(specMarkdown: string): SpecContract {
  const parts = sections(specMarkdown);
  const scope: string[] = [];
  for (const line of parts.get('scope') ?? []) {
    const paths = PATHS_LINE.exec(line);
    if (!paths) continue;
    for (const match of paths[1]!.matchAll(CODE_SPAN)) {
      const glob = match[1]!.trim();
      if (glob !== '') scope.push(glob);
    }
  }
  const evidence: string[] = [];
  for (const line of parts.get('evidence') ?? []) {
    const item = LIST_ITEM.exec(line);
    const command = item ? singleCodeSpan(item[1]!) : null;
    if (command) evidence.push(command);
  }
  return { scope: unique(scope), evidence: unique(evidence) };
}
