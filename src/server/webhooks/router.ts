/**
 * Webhook router: turns the verified, normalized `WebhookEvent`s of the intake (intake.ts) into
 * Temporal signals — the `onEvents` callback of `createWebhookRoutes`.
 *
 * - `issue_changed` → `refresh` to the task queue's DispatcherWorkflow (signal-with-start), plus
 *   `issueUpdated` to the issue's run when one is running. Never starts an IssueWorkflow itself:
 *   eligibility and concurrency belong to the dispatcher, which starts runs with the same
 *   workflow id a poll would, so a webhook racing a poll ends in one run.
 * - `comment` → `humanReply` (with `mayApprove`) to the issue's running run from people who may
 *   answer, else `commentIgnored` (specs/trust.md).
 * - `pr_review` / `pr_closed` → `prReview` / `prClosed` to the run whose branch
 *   (`foreman/<workspace_key>`) is the event's head branch, only for the PR Foreman opened: head
 *   repository = base repository and, once the run reports it, the same PR number; reviews only
 *   from trusted reviewers (specs/trust.md "Pull-request events").
 * - `ci_result` → `ciResult` to the run whose branch is the event's branch (the run re-reads CI
 *   from the SCM API, so the event is only a nudge).
 *
 * Owns the routing and trust rules. Does not verify or parse payloads (intake.ts, github.ts, linear.ts), decide what
 * runs (the dispatcher) or what a signal means to a run (the workflows). Webhooks are a latency
 * optimisation over polling: whatever cannot be routed (no run, unknown branch) is dropped with a
 * debug log and the next poll catches up.
 */
import { WorkflowNotFoundError, type Client, type SignalDefinition } from '@temporalio/client';
import { ForemanError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { findIssueRun, listRunningIssues, type RunningRun } from '../../dispatch/runs.js';
import type { Deployment } from '../../deployment.js';
import { ignoreComment, statusOf } from '../../dispatch/reconcile.js';
import { defaultPolicy } from '../../config/schema.js';
import { TrustGate } from '../../trust/index.js';
import type { TrackerUser } from '../../trackers/types.js';
import { nudgeDispatcher } from '../../dispatch/nudge.js';
import { branchName } from '../../workspace/key.js';
import {
  ciResultSignal,
  humanReplySignal,
  issueUpdatedSignal,
  issueWorkflowId,
  prClosedSignal,
  prReviewSignal,
} from '../../../workflows/definitions.js';
import type { IssueRef, WebhookDelivery, WebhookEvent, WebhookEventsHandler } from './events.js';
import type { CiResult, HumanReply, PullRequestClosed, PullRequestReview } from '../../../workflows/definitions.js';
import { MAX_ANSWER_BYTES } from '../../dispatch/reconcile.js';

/** How long the list of running runs is reused for branch look-ups, ms. */
export const RUNNING_RUNS_CACHE_MS = 2_000;

/** Branches Foreman's runs push to (src/workspace/key.ts `branchName`). */
const FOREMAN_BRANCH_PREFIX = 'foreman/';

/** Dependencies and options of `createWebhookRouter`. */
export interface WebhookRouterDeps {
  /** Temporal client of the daemon. */
  client: Client;
  /** The daemon's deployment: its dispatcher is signalled and only its runs are looked up (src/deployment.ts). */
  deployment: Deployment;
  /** Routing decisions at debug, dropped untrusted comments at info. Never logs comment bodies. */
  log: Pick<Logger, 'debug' | 'info' | 'warn'>;
  /**
   * Who may answer and approve (specs/trust.md): returns the daemon's tracker gate (`trustGateFor`
   * under the policy in force), used for events from its tracker's provider. Events from another
   * provider (or every event when unset) get a gate with that gate's `trust` section (else the
   * default) and no look-ups: GitHub trusts OWNER/MEMBER/COLLABORATOR associations, Linear only
   * `trust.users`.
   */
  trust?: () => TrustGate;
  /** How long the running-runs list is reused, ms; 0 lists on every event. (Default: 2000) */
  runsCacheMs?: number;
  /** Clock for the cache, epoch ms. (Default: Date.now) */
  now?: () => number;
}

/**
 * Builds the `onEvents` callback for `createWebhookRoutes` (see the module header for the rules).
 * The independent signals of a delivery are sent in parallel and the promise resolves once
 * Temporal has accepted all of them (signals are durable, so the 202 that follows is truthful).
 * A run that is not running (never started, or ended) is skipped, not an error.
 *
 * @throws ForemanError `webhook_signal_failed` (retryable) when Temporal refused or could not be
 *   reached for any signal; the route then answers 500 and releases the delivery id, so the
 *   provider's redelivery is processed. Every signal sent is safe to repeat (refresh and
 *   issueUpdated are nudges, a comment is taken once by `commentId`).
 */
export function createWebhookRouter(deps: WebhookRouterDeps): WebhookEventsHandler {
  const { client, deployment, log } = deps;
  const gateFor = trustGates(deps.trust);
  const cacheMs = deps.runsCacheMs ?? RUNNING_RUNS_CACHE_MS;
  const now = deps.now ?? Date.now;

  const runningRuns = cachedRunningRuns(client, deployment, cacheMs, now);

  /**
   * The identifier to address a run by. Linear falls back to the issue uuid when a Comment
   * payload lacks `data.issue`; the running run's memo (`issueId`) then names it.
   */
  const resolveIdentifier = async (issue: IssueRef): Promise<string> => {
    if (issue.identifier !== issue.id) return issue.identifier;
    const run = (await runningRuns()).find((r) => r.issueId === issue.id);
    return run?.identifier ?? issue.identifier;
  };

  const runIdOf = (identifier: string) => issueRunId(client, deployment, identifier);
  const refreshDispatcher = (reason: string): Promise<void> =>
    nudgeDispatcher(client, { taskQueue: deployment.taskQueue, reason });

  const onIssueChanged = async (
    e: Extract<WebhookEvent, { kind: 'issue_changed' }>,
    delivery: WebhookDelivery,
  ): Promise<void> => {
    const reason = `webhook: ${e.source} issue ${e.issue.identifier}`;
    const updated = (async () => {
      const identifier = await resolveIdentifier(e.issue);
      const sent = await signalRunning(client, await runIdOf(identifier), issueUpdatedSignal, {
        source: 'webhook',
        at: delivery.receivedAt,
      });
      log.debug(
        { issue: identifier, running: sent },
        sent ? 'webhook: issueUpdated sent' : 'webhook: issue has no running run',
      );
    })();
    await settleAll([refreshDispatcher(reason), updated]);
  };

  const onComment = async (e: Extract<WebhookEvent, { kind: 'comment' }>): Promise<void> => {
    const gate = gateFor(e.source);
    const user = eventUser(e);
    if (!(await gate.mayAnswer(user))) {
      const identifier = await resolveIdentifier(e.issue);
      const workflowId = await runIdOf(identifier);
      const status = await statusOf(client, workflowId);
      if (status === null) return; // no running run: nothing to list it under
      const known = (status.ignoredComments ?? []).map((c) => c.commentId);
      await ignoreComment({ client, log }, { workflowId, identifier }, known, {
        commentId: e.commentId,
        author: e.author,
        reason: 'not trusted',
      });
      return;
    }
    if (!e.body.trim()) {
      log.debug({ issue: e.issue.identifier, comment: e.commentId }, 'webhook: empty comment ignored');
      return;
    }
    if (overLimit(e, log)) return;
    const identifier = await resolveIdentifier(e.issue);
    const reply: HumanReply = {
      text: e.body,
      author: e.author,
      source: 'webhook',
      commentId: e.commentId,
      mayApprove: await gate.mayApprove(user),
    };
    const sent = await signalRunning(client, await runIdOf(identifier), humanReplySignal, reply);
    log.debug(
      { issue: identifier, comment: e.commentId, author: e.author, running: sent },
      sent ? 'webhook: humanReply sent' : 'webhook: comment on an issue with no running run',
    );
  };

  const toRunOfBranch = branchRouter(client, log, runningRuns);

  const onReview = async (e: Extract<WebhookEvent, { kind: 'pr_review' }>): Promise<void> => {
    if (!(await gateFor('github').mayAnswer(eventUser(e)))) {
      log.info(
        { branch: e.branch, pr: e.prNumber, author: e.author },
        'webhook: review from an untrusted reviewer, ignored',
      );
      return;
    }
    const review: PullRequestReview = { prNumber: e.prNumber, state: e.state, author: e.author, body: e.body };
    return toRunOfBranch(e.kind, e.branch, (id) => signalRunning(client, id, prReviewSignal, review), e);
  };

  const route = (e: WebhookEvent, delivery: WebhookDelivery): Promise<void> => {
    switch (e.kind) {
      case 'issue_changed':
        return onIssueChanged(e, delivery);
      case 'comment':
        return onComment(e);
      case 'pr_review':
        return onReview(e);
      case 'pr_closed': {
        const closed: PullRequestClosed = { prNumber: e.prNumber, merged: e.merged };
        return toRunOfBranch(e.kind, e.branch, (id) => signalRunning(client, id, prClosedSignal, closed), e);
      }
      case 'ci_result': {
        const result: CiResult = { sha: e.sha, name: e.name, conclusion: e.conclusion };
        return toRunOfBranch(e.kind, e.branch, (id) => signalRunning(client, id, ciResultSignal, result));
      }
    }
  };

  return async (events, delivery) => {
    try {
      await settleAll(events.map((e) => route(e, delivery)));
    } catch (err) {
      throw signalFailed(delivery, err);
    }
  };
}

/**
 * Sends a PR/CI signal to the run that owns `branch`; unknown branches are dropped. With `pr`,
 * only to a run whose pull request it is (specs/trust.md "Pull-request events"): head repository
 * = base repository, and the run's PR number (when it reports one) = the event's.
 */
function branchRouter(client: Client, log: Pick<Logger, 'debug' | 'info'>, runningRuns: () => Promise<RunningRun[]>) {
  return async (
    kind: string,
    branch: string | null,
    send: (workflowId: string) => Promise<boolean>,
    pr?: { repository: string; headRepository: string | null; prNumber: number },
  ): Promise<void> => {
    if (!branch || !branch.startsWith(FOREMAN_BRANCH_PREFIX)) {
      log.debug({ kind, branch }, 'webhook: not a Foreman branch, ignored');
      return;
    }
    if (pr && (pr.headRepository ?? '').toLowerCase() !== pr.repository.toLowerCase()) {
      log.info(
        { kind, branch, pr: pr.prNumber, head: pr.headRepository },
        'webhook: a pull request from another repository (a fork), ignored',
      );
      return;
    }
    let runs = (await runningRuns()).filter((r) => branchName(r.identifier) === branch);
    if (pr) {
      const numbers = await Promise.all(runs.map(async (r) => (await statusOf(client, r.workflowId))?.prNumber));
      runs = runs.filter((r, i) => {
        const n = numbers[i];
        if (n === undefined || n === null || n === pr.prNumber) return true;
        log.info({ kind, branch, pr: pr.prNumber, runPr: n }, 'webhook: not the pull request the run opened, ignored');
        return false;
      });
    }
    if (runs.length === 0) {
      log.debug({ kind, branch }, 'webhook: no running run on this branch, ignored');
      return;
    }
    await settleAll(
      runs.map(async (r) => {
        const sent = await send(r.workflowId);
        log.debug(
          { kind, branch, issue: r.identifier, running: sent },
          sent ? `webhook: ${kind} sent` : 'webhook: the run ended, ignored',
        );
      }),
    );
  };
}

/** The workflow id of the issue's run in `deployment` (a legacy id when that is the run). */
async function issueRunId(client: Client, deployment: Deployment, identifier: string): Promise<string> {
  return (
    (await findIssueRun(client, deployment, identifier))?.workflowId ?? issueWorkflowId(deployment.key, identifier)
  );
}

/** The `webhook_signal_failed` error (retryable) for a delivery whose signals did not all go through. */
function signalFailed(delivery: WebhookDelivery, err: unknown): ForemanError {
  const cause = err instanceof AggregateError ? err.errors[0] : err;
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new ForemanError(
    'webhook_signal_failed',
    `Could not signal Temporal for ${delivery.source} delivery ${delivery.id} (${delivery.name}): ${detail}. ` +
      'Check that the Temporal server (TEMPORAL_ADDRESS) is reachable; the provider will redeliver.',
    { cause: err, retryable: true },
  );
}

/**
 * The running runs of `deployment`, reused for `cacheMs`. A burst of CI events (one per check run)
 * shares one visibility query. The promise is cached, so concurrent look-ups share the in-flight
 * list too; a failed list is not kept.
 */
function cachedRunningRuns(
  client: Client,
  deployment: Deployment,
  cacheMs: number,
  now: () => number,
): () => Promise<RunningRun[]> {
  let cached: { at: number; runs: Promise<RunningRun[]> } | null = null;
  return () => {
    const t = now();
    if (cached && t - cached.at < cacheMs) return cached.runs;
    const entry = { at: t, runs: listRunningIssues(client, deployment) };
    cached = entry;
    entry.runs.catch(() => {
      if (cached === entry) cached = null;
    });
    return entry.runs;
  };
}

/** The gate for a provider's events: `trust`'s when it is that provider's tracker, else one without look-ups (see `WebhookRouterDeps.trust`). */
function trustGates(trust: (() => TrustGate) | undefined): (source: 'github' | 'linear') => TrustGate {
  return (source) => {
    const gate = trust?.();
    if (gate && gate.kind === source) return gate;
    return new TrustGate({
      trust: gate?.policy ?? defaultPolicy().trust,
      requiredLabels: [],
      tracker: { kind: source },
    });
  };
}

/** The author of a comment or review event as the trust rules see them (specs/trust.md). */
function eventUser(e: {
  author: string;
  authorId?: string;
  authorAssociation?: string;
  authorBot?: boolean;
}): TrackerUser {
  return {
    id: e.authorId ?? e.author,
    name: e.author,
    role: e.authorAssociation?.toUpperCase() ?? null,
    bot: e.authorBot === true,
  };
}

/** Signals a workflow; false when it is not running (the signal is dropped). */
async function signalRunning<Args extends unknown[]>(
  client: Client,
  workflowId: string,
  signal: SignalDefinition<Args>,
  ...args: Args
): Promise<boolean> {
  try {
    await client.workflow.getHandle(workflowId).signal(signal, ...args);
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

/**
 * Awaits every promise (so one failure does not leave the others unsent) and then throws the
 * first failure, or an AggregateError when several failed.
 */
async function settleAll(promises: Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(promises);
  const failures = results
    .filter((r): r is PromiseRejectedResult => r.status === 'rejected')
    .map((r) => r.reason as unknown);
  if (failures.length === 1) throw failures[0];
  if (failures.length > 1) throw new AggregateError(failures, `${failures.length} signals failed`);
}

/**
 * True (and logged) when a comment is too long to be an answer; the tracker poll
 * (src/dispatch/reconcile.ts) replies on the issue that it is, so nothing is dropped silently.
 */
function overLimit(
  e: { body: string; commentId: string; issue: { identifier: string } },
  log: Pick<Logger, 'warn'>,
): boolean {
  if (Buffer.byteLength(e.body, 'utf8') <= MAX_ANSWER_BYTES) return false;
  log.warn({ issue: e.issue.identifier, comment: e.commentId }, 'webhook: answer over the size limit not sent');
  return true;
}
