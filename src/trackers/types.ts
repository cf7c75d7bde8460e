/**
 * The tracker boundary: the normalized issue (Symphony SPEC §4.1.1) and the small interface every
 * adapter (local, linear, github) implements. The orchestration never inspects a provider's
 * payload; provider details ride in the opaque `native_ref`.
 *
 * Field names are snake_case on purpose: they are what the Liquid prompt template sees
 * (`{{ issue.identifier }}`), as in Symphony.
 */

/** A blocker reference (Symphony SPEC §4.1.1 `blocked_by`). */
export interface BlockerRef {
  id: string | null;
  identifier: string | null;
  state: string | null;
}

/**
 * A person (or bot) on the tracker, as the trust rules need them (specs/trust.md).
 * GitHub: `id` = `name` = login. Linear: `id` = user uuid, `name` = display name. Local: the
 * folder's writer (`id` = `name` = `local`).
 */
export interface TrackerUser {
  id: string;
  name: string;
  /**
   * The user's standing in the project as the tracker reports it. GitHub: the `author_association`
   * (`OWNER`, `MEMBER`, `COLLABORATOR`, `CONTRIBUTOR`, `NONE`…) where the payload has one. Linear:
   * `guest` or `member`. Local: `local`. null when unknown (then the tracker is asked).
   */
  role: string | null;
  /** True for bots, apps and integrations (GitHub `user.type` Bot; Linear `app` users and bot actors). */
  bot: boolean;
}

/** The normalized issue (Symphony SPEC §4.1.1). */
export interface Issue {
  /** Stable, opaque dispatch identity within the tracker scope. */
  id: string;
  /** Human-readable key, unique within the scope (e.g. `DEMO-1`); names workspaces and workflows. */
  identifier: string;
  title: string;
  description: string | null;
  /** Lower is more urgent; 1..4 sort first, anything else after (Symphony SPEC §8.2). */
  priority: number | null;
  /** Provider-native state name. */
  state: string;
  branch_name: string | null;
  url: string | null;
  assignee_id: string | null;
  /** Lowercased. */
  labels: string[];
  blocked_by: BlockerRef[];
  /** Adapter-derived eligibility for provider rules the scheduler cannot infer. */
  dispatchable: boolean;
  /** RFC 3339 timestamps, or null when the provider has none. */
  created_at: string | null;
  updated_at: string | null;
  /** Opaque, non-secret provider identifiers. */
  native_ref: Record<string, unknown> | null;
  /** Who opened the issue (specs/trust.md "Who may start work"); absent or null when unknown. */
  author?: TrackerUser | null;
}

/** One comment on an issue, oldest first in every list. */
export interface IssueComment {
  /** Stable id within the issue. */
  id: string;
  /** Author name as the tracker shows it (`foreman` for Foreman's own comments). */
  author: string;
  /** Markdown body, with Foreman's hidden marker removed. */
  body: string;
  /** RFC 3339. */
  created_at: string;
  /**
   * True when Foreman wrote it: its hidden marker's MAC verifies and (GitHub, Linear) its author is
   * the account Foreman posts as (docs/architecture.md, "Foreman's own comments"). Such comments are
   * never human answers; one with a forged marker is a person's.
   */
  by_foreman: boolean;
  /** The idempotency key of a Foreman comment; null for every other comment, forged markers included. */
  key: string | null;
  /** The author as the trust rules see them (specs/trust.md); absent or null when unknown. */
  author_user?: TrackerUser | null;
}

/** Result of an idempotent comment write. */
export interface PostedComment {
  id: string;
  /** False when a comment with the same key already existed (and was updated in place). */
  created: boolean;
}

/**
 * An issue Foreman files (`Tracker.createIssue`), e.g. a schedule's daily issue. `key` is the
 * idempotency key: filing twice with the same key returns the existing issue (`created: false`).
 */
export interface NewIssue {
  /**
   * Idempotency key (non-empty, no whitespace, `<`, `>` or `&`). Linear and GitHub store it as the
   * hidden `<!-- foreman:key=… -->` marker in the description/body and look for it before
   * creating; local relies on `identifier` (the file name) instead.
   */
  key: string;
  /**
   * The local tracker's identifier and file name (`<identifier>.md`). Linear and GitHub assign
   * their own identifiers (`ENG-12`, `app-7`) and ignore it.
   */
  identifier: string;
  /** One line of text. */
  title: string;
  /** Markdown body. (Default: empty) */
  description?: string;
  /** Label names. GitHub creates missing labels; Linear creates missing team labels. */
  labels?: string[];
  /** 1 urgent … 4 low (Linear's scale; GitHub: a `priority: N` label). */
  priority?: number;
  /** Provider-native state name the issue starts in (GitHub: `state: X` label, or closed if terminal). */
  state: string;
  /** RFC 3339 creation time (local: front matter `created_at`; Linear: `createdAt`). (Default: now) */
  createdAt?: string;
  /**
   * Extra provider fields: local writes each entry into the front matter after `created_at`
   * (e.g. `schedule: nightly`); Linear and GitHub ignore them.
   */
  meta?: Record<string, string>;
}

/** Result of `Tracker.createIssue`. */
export interface CreatedIssue {
  issue: Issue;
  /** False when an issue with the same key (local: the same file) already existed; it is left as is. */
  created: boolean;
}

/**
 * What Foreman needs from a tracker. Every write is idempotent so a retried activity never
 * repeats a side effect. Errors are `TrackerError` with a stable code.
 */
export interface Tracker {
  /** `local`, `linear` or `github`. */
  readonly kind: string;
  /** Issues in any of the given states (compared trimmed + lowercased). */
  fetchIssuesByStates(states: string[]): Promise<Issue[]>;
  /** The issues with these ids; unknown ids are left out, not errors. */
  fetchIssuesByIds(ids: string[]): Promise<Issue[]>;
  /** One issue by its human identifier, or null. */
  fetchIssueByIdentifier(identifier: string): Promise<Issue | null>;
  /** Comments on the issue, oldest first; `since` (RFC 3339) keeps only later ones. */
  fetchComments(issueId: string, since?: string): Promise<IssueComment[]>;
  /**
   * Comments on several issues created after `since` (RFC 3339), in one call or one page loop
   * (local: the comments files; GitHub: the repository's comment list; Linear: one query filtered
   * by issue ids), keyed by issue id, each list oldest first; issues without such comments (or
   * gone) are absent. Optional: `commentsSince` (src/trackers/shared.ts) falls back to
   * `fetchComments` per issue. Used by the dispatcher's reconciliation (docs/architecture.md,
   * "What the dispatcher reads").
   */
  fetchCommentsSince?(issueIds: string[], since: string): Promise<Map<string, IssueComment[]>>;
  /**
   * Posts a comment carrying a hidden marker with `key`, signed with the installation's comment key.
   * If Foreman's own comment with that key exists, its body is replaced instead (never a second
   * comment); a comment someone else posted with that key is left alone.
   */
  upsertComment(issueId: string, key: string, body: string): Promise<PostedComment>;
  /** Moves the issue to the named state; a no-op when it is already there. */
  moveIssue(issueId: string, state: string): Promise<void>;
  /**
   * Links a pull request on the issue where the tracker has a native link (Linear: an attachment).
   * Optional: trackers without one (GitHub cross-references the PR from its body) leave it out.
   */
  linkPullRequest?(issueId: string, url: string, title: string): Promise<unknown>;
  /**
   * Files a new issue, idempotently by `issue.key` (see `NewIssue`). Optional so other adapters
   * may leave it out; local, linear and github implement it.
   *
   * @throws TrackerError `tracker_payload_invalid` (bad title/state/identifier/key),
   *   `tracker_state_unknown` (Linear: no such workflow state), `issue_file_invalid` (local: the
   *   existing file is unusable), and the adapter's transport codes.
   */
  createIssue?(issue: NewIssue): Promise<CreatedIssue>;
  /**
   * Whether `user` has write access to the project (GitHub: collaborator permission `write`,
   * `maintain` or `admin`; Linear: a member of the team, not a guest or app). Optional: a tracker
   * without it trusts only what the normalized `role` says (specs/trust.md). Callers cache it.
   */
  writeAccess?(user: TrackerUser): Promise<boolean>;
  /**
   * Who applied the label `label` (case-insensitive) to the issue, oldest first (GitHub: the
   * issue's `labeled` events; Linear: the issue history's `addedLabelIds`). Optional.
   */
  labelAppliers?(issue: Issue, label: string): Promise<TrackerUser[]>;
  /**
   * Calls `onChange` when issues may have changed (e.g. a file appeared); returns a function
   * that stops watching. Adapters without push notifications return a no-op.
   */
  watch(onChange: () => void): () => void;
}
