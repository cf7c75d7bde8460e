/**
 * The one answer path (specs/escalations.md): `foreman answer`, `foreman retry` and the dashboard's
 * `POST /api/v1/<identifier>/answer` all find the issue's run here, check that it waits, parse the
 * reply with the rule the IssueWorkflow applies (src/escalation/answer.ts) and only then signal
 * `humanReply`. A pick that is not on offer is refused before anything is sent.
 */
import type { Client } from '@temporalio/client';
import { findIssueRun, listRunningIssues } from '../dispatch/runs.js';
import type { Deployment } from '../deployment.js';
import { CliError } from '../errors.js';
import { humanReplySignal, statusQuery, type HumanReply } from '../../workflows/definitions.js';
import { interpretAnswer, normalizeOptions } from './answer.js';

/**
 * The run of `identifier` to answer: in `deployment`, or (null) the one running IssueWorkflow of
 * that identifier on the namespace. Returns its workflow id.
 * @throws CliError `issue_not_running` (none), `usage` (several deployments run it: name the policy).
 */
export async function runToAnswer(client: Client, deployment: Deployment | null, identifier: string): Promise<string> {
  if (deployment) {
    const found = await findIssueRun(client, deployment, identifier);
    if (!found) throw new CliError('issue_not_running', `${identifier} has no Foreman workflow in this deployment.`);
    return found.workflowId;
  }
  const runs = (await listRunningIssues(client, null)).filter((r) => r.identifier === identifier);
  if (runs.length === 0) throw new CliError('issue_not_running', `${identifier} has no running Foreman workflow.`);
  if (runs.length > 1)
    throw new CliError(
      'usage',
      `${identifier} runs in ${runs.length} deployments (${runs.map((r) => r.workflowId).join(', ')}): ` +
        'pass --policy FILE to say whose.',
    );
  return runs[0]!.workflowId;
}

/** What was delivered. */
export interface DeliveredAnswer {
  /** The question answered; null when no worker could say (the answer is kept for later). */
  question: string | null;
  /** The escalation's 1-based number within the run; null when no worker could say. */
  escalation: number | null;
  /** The option the reply picks (1-based), or null for free text (guidance for the agent). */
  option: number | null;
  /** A line for the person: the question and what the reply picked. */
  line: string;
}

/** Longest wait for the run's status query, ms, before the answer is taken as "no worker now". */
const STATUS_WAIT_MS = 5000;

/**
 * Signals `humanReply` (`reply`) to the issue's run (`runToAnswer`: in `deployment`, a legacy run
 * included) after checking that it waits for an answer and, when `expect.escalation` is given,
 * that the waiting question is that one (so an answer typed against an old question is not taken
 * for a newer one). When no worker is up to answer the check, the answer is still delivered if the
 * run exists: signals are durable, and the run takes it when a worker starts.
 * @throws CliError `issue_not_running` (no such run, or it ended) / `not_waiting` (nothing waits) /
 *   `escalation_changed` (another question waits than `expect.escalation`) / `answer_not_on_offer`
 *   (a pick not among the options: nothing sent) / `usage` (see runToAnswer).
 */
export async function deliverAnswer(
  client: Client,
  deployment: Deployment | null,
  identifier: string,
  reply: HumanReply,
  expect: { escalation?: number } = {},
): Promise<DeliveredAnswer> {
  const handle = client.workflow.getHandle(await runToAnswer(client, deployment, identifier));
  const noWorker = Symbol('no worker');
  const status = await Promise.race([
    handle.query(statusQuery).catch(() => noWorker),
    new Promise<typeof noWorker>((resolve) => setTimeout(() => resolve(noWorker), STATUS_WAIT_MS).unref()),
  ]);
  if (typeof status === 'symbol') {
    const running = await handle.describe().then(
      (d) => d.status.name === 'RUNNING',
      () => false,
    );
    if (!running) throw new CliError('issue_not_running', `${identifier} has no running Foreman workflow.`);
    await handle.signal(humanReplySignal, reply);
    const line = 'no worker is running now; the answer is kept and taken when a worker starts';
    return { question: null, escalation: null, option: null, line };
  }
  if (status.phase !== 'waiting_for_human' || !status.escalation) {
    throw new CliError('not_waiting', `${identifier} is not waiting for an answer (phase: ${status.phase}).`);
  }
  const e = status.escalation;
  if (expect.escalation !== undefined && expect.escalation !== e.n) {
    throw new CliError(
      'escalation_changed',
      `${identifier} now waits on question ${e.n}, not ${expect.escalation}: ${e.question}. Nothing sent.`,
    );
  }
  // The run parses the answer (src/escalation/answer.ts); the same parse here refuses a pick that
  // is not on offer before it is sent, and says which option a pick chose.
  const answer = interpretAnswer(reply, e.options);
  if (answer.kind === 'invalid') throw new CliError('answer_not_on_offer', `Not sent: ${answer.why}.`);
  await handle.signal(humanReplySignal, reply);
  const picked =
    answer.kind === 'option'
      ? ` (picked option ${answer.option}: ${normalizeOptions(e.options)[answer.option - 1]!.label})`
      : ' (free text: guidance for the agent)';
  return {
    question: e.question,
    escalation: e.n,
    option: answer.kind === 'option' ? answer.option : null,
    line: `${e.question}${picked}`,
  };
}
