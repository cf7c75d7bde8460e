/** A normalized issue for tests: every field at its plain default, `over` on top. */
import type { Issue } from '../../src/trackers/types.js';

export function makeIssue(identifier: string, over: Partial<Issue> = {}): Issue {
  return {
    id: `id-${identifier}`,
    identifier,
    title: `Title ${identifier}`,
    description: null,
    priority: null,
    state: 'Todo',
    branch_name: null,
    url: null,
    assignee_id: null,
    labels: [],
    blocked_by: [],
    dispatchable: true,
    created_at: null,
    updated_at: null,
    native_ref: null,
    ...over,
  };
}
