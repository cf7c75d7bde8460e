/**
 * A parsed issue file → the normalized `Issue` (Symphony SPEC §4.1.1). Ids are the identifiers
 * (file names without `.md`); blockers are resolved by the caller.
 */
import { pathToFileURL } from 'node:url';
import type { BlockerRef, Issue } from '../types.js';
import type { ParsedIssue } from './parse.js';

/** The `Issue` of `<identifier>.md` at `file`, with its resolved blockers. */
export function toIssue(identifier: string, file: string, parsed: ParsedIssue, blocked_by: BlockerRef[]): Issue {
  return {
    id: identifier,
    identifier,
    title: parsed.title,
    description: parsed.description,
    priority: parsed.priority,
    state: parsed.state,
    branch_name: null,
    url: pathToFileURL(file).href,
    assignee_id: null,
    labels: [...parsed.labels], // a copy: parses are kept between listings (./issue-cache.ts)
    blocked_by,
    dispatchable: true,
    created_at: parsed.created_at,
    updated_at: parsed.updated_at,
    native_ref: { path: file },
  };
}
