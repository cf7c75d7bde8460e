/**
 * GitHub webhooks: signature verification with @octokit/webhooks and the mapping of GitHub events
 * onto what Foreman does (`WebhookEvent`). Pure apart from the HMAC check; nothing here talks to
 * Temporal or the network.
 */
import { Webhooks } from '@octokit/webhooks';
import { personsText, type CommentMarkers } from './provider.js';
import type { IssueRef, WebhookEvent } from './events.js';
import { num, obj, parseJson, Reject, str, type Json, type Provider } from './provider.js';

/** `issues` actions that change what Foreman reads from an issue (labels, state, assignee, text). */
const GITHUB_ISSUE_ACTIONS = new Set([
  'opened',
  'edited',
  'labeled',
  'unlabeled',
  'reopened',
  'closed',
  'assigned',
  'unassigned',
  'deleted',
  'transferred',
]);
const REVIEW_STATES = new Set(['approved', 'changes_requested', 'commented']);
const STATUS_STATES = new Set(['success', 'failure', 'error']);

/** A 400 `invalid_payload` for a signed delivery that lacks what its event needs (specs/trust.md "Webhook payloads"). */
export function invalidPayload(what: string): Reject {
  return new Reject(400, 'invalid_payload', `The payload is malformed: ${what}.`);
}

/**
 * Maps one GitHub delivery (`x-github-event` name + parsed payload) to events; `[]` for anything
 * Foreman does not act on (e.g. `pull_request.opened/synchronize`, `ping`, pending statuses, PR
 * conversation comments, comments by Foreman). A delivery of an event Foreman acts on that lacks
 * the objects it needs (`issue`, `comment.user`, `pull_request.head`, `review.user`…) is a
 * `Reject` (400 `invalid_payload`). Rules: Foreman issue #webhooks brief; payload shapes from
 * GitHub's "Webhook events and payloads" (checked against @octokit/webhooks-examples).
 */
export function mapGitHubEvent(
  name: string,
  payload: Record<string, unknown>,
  comments: CommentMarkers = {},
): WebhookEvent[] | Reject {
  const action = str(payload.action);
  const repository = obj(payload.repository);
  const repoName = str(repository.name);
  const repoFull = str(repository.full_name) ?? repoName ?? '';
  const issueRef = (issue: Json): IssueRef | null => {
    const n = num(issue.number);
    return n === null || !repoName ? null : { id: String(n), identifier: `${repoName}-${n}` };
  };

  switch (name) {
    case 'issues': {
      if (!action || !GITHUB_ISSUE_ACTIONS.has(action)) return [];
      const issue = issueRef(obj(payload.issue));
      return issue
        ? [{ kind: 'issue_changed', source: 'github', issue }]
        : invalidPayload('no issue.number or repository');
    }
    case 'issue_comment':
      return action === 'created' ? mapIssueComment(payload, issueRef, comments) : [];
    case 'pull_request': {
      if (action !== 'closed') return [];
      const pr = obj(payload.pull_request);
      const branch = str(obj(pr.head).ref);
      const prNumber = num(pr.number) ?? num(payload.number);
      if (!branch || prNumber === null || !repoFull) return invalidPayload('no pull_request.head.ref or number');
      return [
        {
          kind: 'pr_closed',
          source: 'github',
          repository: repoFull,
          headRepository: headRepo(pr),
          branch,
          prNumber,
          merged: pr.merged === true,
        },
      ];
    }
    case 'pull_request_review': {
      if (action !== 'submitted') return [];
      const pr = obj(payload.pull_request);
      const review = obj(payload.review);
      const state = str(review.state)?.toLowerCase();
      if (!state || !REVIEW_STATES.has(state)) return [];
      const branch = str(obj(pr.head).ref);
      const prNumber = num(pr.number);
      const user = obj(review.user);
      const author = str(user.login);
      if (!branch || prNumber === null || !author || !repoFull)
        return invalidPayload('no pull_request.head.ref, number or review.user');
      const association = str(review.author_association);
      return [
        {
          kind: 'pr_review',
          source: 'github',
          repository: repoFull,
          headRepository: headRepo(pr),
          branch,
          prNumber,
          state: state as 'approved' | 'changes_requested' | 'commented',
          author,
          ...(association ? { authorAssociation: association } : {}),
          authorBot: user.type === 'Bot',
          body: str(review.body) ?? '',
        },
      ];
    }
    case 'check_suite':
    case 'check_run':
    case 'status':
      return mapCiEvent(name, action, payload, repoFull);
    default:
      return [];
  }
}

/** The head repository's `owner/name` of a pull request payload, or null when it names none (a deleted fork). */
function headRepo(pr: Json): string | null {
  return str(obj(obj(pr.head).repo).full_name);
}

/** `issue_comment.created` → a `comment` event (not on a PR, not Foreman's own). */
function mapIssueComment(
  payload: Json,
  issueRef: (issue: Json) => IssueRef | null,
  comments: CommentMarkers,
): WebhookEvent[] | Reject {
  const rawIssue = obj(payload.issue);
  // Conversation comments on a PR arrive as issue_comment with `issue.pull_request` set.
  if (rawIssue.pull_request !== undefined && rawIssue.pull_request !== null) return [];
  const issue = issueRef(rawIssue);
  const comment = obj(payload.comment);
  const commentId = num(comment.id) ?? str(comment.id);
  const user = obj(comment.user);
  const author = str(user.login);
  if (!issue || commentId === null || !author || typeof comment.body !== 'string')
    return invalidPayload('no issue.number, comment.id, comment.body or comment.user');
  const body = personsText(comment.body, comments);
  if (body === null) return [];
  const association = str(comment.author_association);
  return [
    {
      kind: 'comment',
      source: 'github',
      issue,
      commentId: String(commentId),
      author,
      body,
      ...(association ? { authorAssociation: association } : {}),
      authorBot: user.type === 'Bot',
    },
  ];
}

/** `check_suite.completed`, `check_run.completed` and finished `status` → a `ci_result` event. */
function mapCiEvent(
  name: 'check_suite' | 'check_run' | 'status',
  action: string | null,
  payload: Json,
  repository: string,
): WebhookEvent[] {
  if (name === 'status') {
    const state = str(payload.state);
    const sha = str(payload.sha);
    if (!state || !STATUS_STATES.has(state) || !sha) return [];
    const branches = Array.isArray(payload.branches) ? payload.branches : [];
    return [
      {
        kind: 'ci_result',
        source: 'github',
        repository,
        branch: str(obj(branches[0]).name),
        sha,
        conclusion: state,
        name: str(payload.context) ?? 'status',
      },
    ];
  }
  if (action !== 'completed') return [];
  const item = obj(payload[name]);
  const sha = str(item.head_sha);
  if (!sha) return [];
  const suite = name === 'check_suite';
  return [
    {
      kind: 'ci_result',
      source: 'github',
      repository,
      branch: suite ? str(item.head_branch) : str(obj(item.check_suite).head_branch),
      sha,
      conclusion: str(item.conclusion) ?? 'unknown',
      name: suite ? (str(obj(item.app).name) ?? 'check_suite') : (str(item.name) ?? 'check_run'),
    },
  ];
}

/**
 * The GitHub half of `POST /webhooks/github`: requires `x-hub-signature-256` (401
 * `missing_signature`), `x-github-event` and `x-github-delivery` (400 `missing_header`), verifies
 * the body with `@octokit/webhooks` `verify(rawBody, signature)` (401 `bad_signature`), then
 * parses it (400 `malformed_json` / `invalid_payload`). `secret` unset → not configured (503).
 */
export function createGitHubProvider(secret: string | undefined, comments: CommentMarkers = {}): Provider {
  const github = secret ? new Webhooks({ secret }) : null;
  return {
    source: 'github',
    configured: github !== null,
    precheck(headers) {
      if (!headers.get('x-hub-signature-256')) {
        return new Reject(
          401,
          'missing_signature',
          'The x-hub-signature-256 header is missing: set a secret on the GitHub webhook (same value as the GitHub webhook secret in the policy).',
        );
      }
      if (!headers.get('x-github-event'))
        return new Reject(400, 'missing_header', 'The x-github-event header is missing.');
      if (!headers.get('x-github-delivery'))
        return new Reject(400, 'missing_header', 'The x-github-delivery header is missing.');
      return null;
    },
    async verify(raw, headers) {
      const signature = headers.get('x-hub-signature-256')!;
      let ok: boolean;
      try {
        // The signature covers the exact bytes; a UTF-8 round trip is exact for valid UTF-8 and
        // anything else was not JSON from GitHub anyway.
        ok = await github!.verify(raw.toString('utf8'), signature);
      } catch {
        ok = false; // empty body or malformed header: the SDK throws instead of returning false
      }
      if (!ok)
        return new Reject(
          401,
          'bad_signature',
          'The x-hub-signature-256 signature does not match: check that the GitHub webhook secret equals the one Foreman is configured with.',
        );
      const parsed = parseJson(raw);
      if (parsed instanceof Reject) return parsed;
      const event = headers.get('x-github-event')!;
      const action = str(parsed.action);
      return { payload: parsed, id: headers.get('x-github-delivery')!, name: action ? `${event}.${action}` : event };
    },
    map: (name, payload) => mapGitHubEvent(name.split('.')[0]!, payload, comments),
  };
}
