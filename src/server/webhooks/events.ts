/**
 * The normalized webhook events: what the provider mappings (github.ts, linear.ts) produce from a
 * verified delivery and what the router (router.ts) turns into Temporal signals. Types only.
 */

/** Which provider sent a delivery. */
export type WebhookSource = 'github' | 'linear';

/**
 * A tracker issue as webhooks name it. GitHub: `id` = issue number as a string (`"42"`),
 * `identifier` = `<repo>-<number>` (`app-42`), as src/trackers/github.ts. Linear: `id` = issue
 * uuid, `identifier` = e.g. `ENG-123` (falls back to the uuid when a Comment payload lacks
 * `data.issue`).
 */
export interface IssueRef {
  id: string;
  identifier: string;
}

/** What Foreman acts on, normalized across providers. */
export type WebhookEvent =
  /** The issue was created, edited, labeled, assigned, moved, closed, removed…: re-read it. */
  | { kind: 'issue_changed'; source: WebhookSource; issue: IssueRef }
  /**
   * A human comment on an issue (never one carrying Foreman's `<!-- foreman:key=` marker).
   * GitHub: `author` = login, `authorAssociation` = `OWNER | MEMBER | COLLABORATOR | CONTRIBUTOR
   * | …`, `authorBot` = `user.type` is `Bot`. Linear: `author` = user name (or email), `authorId` =
   * user uuid (its team membership is looked up). Who may answer: specs/trust.md.
   */
  | {
      kind: 'comment';
      source: WebhookSource;
      issue: IssueRef;
      commentId: string;
      author: string;
      authorId?: string;
      body: string;
      authorAssociation?: string;
      authorBot?: boolean;
    }
  /**
   * A submitted pull request review. `repository` = the base `owner/name`; `headRepository` = the
   * head's (another one for a fork; null when the payload names none). `authorAssociation` and
   * `authorBot` are the reviewer's, as for comments.
   */
  | {
      kind: 'pr_review';
      source: 'github';
      repository: string;
      headRepository: string | null;
      branch: string;
      prNumber: number;
      state: 'approved' | 'changes_requested' | 'commented';
      author: string;
      authorAssociation?: string;
      authorBot?: boolean;
      body: string;
    }
  /** A pull request was closed, merged or not (`headRepository` as for reviews). */
  | {
      kind: 'pr_closed';
      source: 'github';
      repository: string;
      headRepository: string | null;
      branch: string;
      prNumber: number;
      merged: boolean;
    }
  /**
   * A finished check suite, check run or commit status. `conclusion`: GitHub's value (`success`,
   * `failure`, `neutral`, `cancelled`, `timed_out`, `action_required`, `skipped`, `stale`; for
   * statuses `success`, `failure`, `error`). `branch` is null when GitHub names none.
   */
  | {
      kind: 'ci_result';
      source: 'github';
      repository: string;
      branch: string | null;
      sha: string;
      conclusion: string;
      name: string;
    };

/** The kinds of `WebhookEvent`. */
export type WebhookEventKind = WebhookEvent['kind'];

/** One verified delivery. */
export interface WebhookDelivery {
  /** Provider delivery id: `x-github-delivery`, `linear-delivery` (or a key derived from the payload). */
  id: string;
  source: WebhookSource;
  /** `event.action`, e.g. `issues.opened`, `status`, `Issue.update`, `Comment.create`. */
  name: string;
  /** RFC 3339, when our server read it. */
  receivedAt: string;
}

/** Receives the events of one verified, new delivery. Resolve only when they are safely handed on. */
export type WebhookEventsHandler = (events: WebhookEvent[], delivery: WebhookDelivery) => Promise<void>;
