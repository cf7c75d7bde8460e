/**
 * What the SCM side reports to the IssueWorkflow: the pull request Foreman opened and CI on its head.
 * Types only (the workflow imports them as types).
 */

/** The pull request Foreman opened (or updated) for the branch. */
export interface PullRequestRef {
  number: number;
  url: string;
  created: boolean;
}

/** CI on a pull request's head, as the SCM API reports it. */
export interface CiSummary {
  state: 'pending' | 'success' | 'failure';
  checks: { name: string; status: string; conclusion: string | null; url: string | null }[];
}
