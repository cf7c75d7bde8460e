/**
 * The Level-5 metrics: how far the work runs without a human, and what it costs, computed from the
 * run ledger (./record.ts) by pure functions. Each metric's definition, source and unit is in
 * specs/metrics.md; {@link METRIC_DEFINITIONS} is the same text, served with the numbers.
 *
 * A run belongs to the UTC day it started (a cohort): everything about it (its escalations, its
 * tokens, whether its work was accepted or escaped) counts for that day, so a day's numbers never
 * move to another day, though a recent day's numbers still change while its runs go on.
 */
import type { RunRecord } from './record.js';

/** The metric names, in the order the API and `/metrics` list them. */
export const METRIC_NAMES = [
  'runs',
  'accepted_changes',
  'interventions',
  'mean_time_between_interventions_s',
  'longest_unattended_run_s',
  'escalation_rate',
  'auto_approved_share',
  'escalated_share',
  'agent_actions_per_instruction',
  'review_time_s',
  'rework_rate',
  'defect_escape_rate',
  'tokens_per_accepted_change',
  'usd_per_accepted_change',
] as const;

/** One metric's name. */
export type MetricName = (typeof METRIC_NAMES)[number];

/** Values of every metric; null where the metric is undefined for the runs (e.g. no accepted change). */
export type MetricValues = Record<MetricName, number | null>;

/** The definitions (specs/metrics.md, one line each). */
export const METRIC_DEFINITIONS: Record<MetricName, string> = {
  runs: 'Issue runs started in the period (count).',
  accepted_changes:
    'Runs whose work was accepted: the pull request was merged, or the run completed without a pull request (handed over) and was not sent back (count).',
  interventions:
    'Human answers to escalations, approvals included; answers by the outage probe are not counted (count).',
  mean_time_between_interventions_s:
    'Agent working time (run start to first hand-over, or to the end or the latest record, minus time waiting for an answer), summed over the runs, divided by interventions (seconds); null without interventions.',
  longest_unattended_run_s:
    'The longest time from start to first hand-over of a run whose work was accepted and that no human answered before that hand-over (seconds); null when there is none.',
  escalation_rate: 'Escalations (questions to a human, of every kind) per run.',
  auto_approved_share: 'Share of handed-over runs that asked no question before or after hand-over (0..1).',
  escalated_share: 'Share of handed-over runs with at least one escalation (0..1): 1 - auto_approved_share.',
  agent_actions_per_instruction:
    'Agent tool calls per human instruction; instructions are the issues themselves (one per run), the interventions and the rework rounds.',
  review_time_s:
    'Mean time from the last hand-over to the merge of the pull request, over merged runs (seconds); null when none was merged.',
  rework_rate:
    'Share of runs with a rework round after hand-over (changes requested, red CI, issue sent back, in the run or by a new run) or a reviewer verdict that sent the work back (0..1).',
  defect_escape_rate:
    'Share of accepted changes whose issue was dispatched again after the acceptance (reopened or reverted work) (0..1).',
  tokens_per_accepted_change: 'Tokens of all runs (input, output, cache writes and reads) per accepted change.',
  usd_per_accepted_change: 'USD of all runs per accepted change; null when a run used a model without a price.',
};

/** What `GET /api/v1/metrics` answers (specs/metrics.md, "API"). */
export interface MetricsReport {
  /** RFC 3339. */
  generated_at: string;
  window_days: number;
  definitions: Record<MetricName, string>;
  /** Over every run started in the window. */
  current: MetricValues;
  /** One entry per UTC day of the window, oldest first, over the runs started that day. */
  daily: ({ date: string } & MetricValues)[];
}

const DAY_MS = 86_400_000;
const ms = (t: string) => Date.parse(t);
const round = (v: number) => Math.round(v * 1e6) / 1e6;

/**
 * When the run's work was accepted (epoch ms): the merge, or the end of a completed run without a
 * pull request that no later run reworks (`sentBack`: run ids some run's `reworkOf` names); null
 * when not (yet).
 */
export function acceptedAt(r: RunRecord, sentBack: ReadonlySet<string> = new Set()): number | null {
  if (r.prState === 'merged') return r.prClosedAt ? ms(r.prClosedAt) : null;
  if (r.outcome === 'completed' && r.prState === null && r.endedAt && !sentBack.has(r.runId)) return ms(r.endedAt);
  return null;
}

/** The run ids a later run reworks (its `reworkOf`): work sent back after its run ended. */
export function sentBackRuns(peers: RunRecord[]): Set<string> {
  return new Set(peers.map((p) => p.reworkOf).filter((id): id is string => id !== null));
}

/** Human answers the run received (answered escalations not answered by the outage probe). */
export function humanAnswers(r: RunRecord): RunRecord['escalations'] {
  return r.escalations.filter((e) => e.human && e.answeredAt !== null);
}

/**
 * The agent's working time in a run, ms: start to first hand-over (else the end, else the latest
 * record), minus the time escalations waited for their answer within that span.
 */
export function workingMs(r: RunRecord): number {
  const start = ms(r.startedAt);
  const end = ms(r.handOvers[0] ?? r.endedAt ?? r.updatedAt);
  let waited = 0;
  for (const e of r.escalations) {
    const asked = ms(e.askedAt);
    if (asked >= end) continue;
    waited += Math.min(e.answeredAt ? ms(e.answeredAt) : end, end) - asked;
  }
  return Math.max(0, end - start - waited);
}

/**
 * Every metric over `group` (runs of one period). `peers` are the runs searched for a later dispatch
 * of an accepted change's issue (defect escape): every run of the deployment known.
 */
export function metricValues(group: RunRecord[], peers: RunRecord[]): MetricValues {
  const runs = group.length;
  const sentBack = sentBackRuns(peers);
  const accepted = group.filter((r) => acceptedAt(r, sentBack) !== null);
  const interventions = group.reduce((n, r) => n + humanAnswers(r).length, 0);
  const sum = (f: (r: RunRecord) => number, of = group) => of.reduce((n, r) => n + f(r), 0);
  const share = (part: number, whole: number) => (whole === 0 ? null : round(part / whole));
  const per = (total: number, count: number) => (count === 0 ? null : round(total / count));

  const unattended = accepted
    .filter((r) => r.handOvers.length > 0)
    .filter((r) => !humanAnswers(r).some((e) => ms(e.answeredAt!) <= ms(r.handOvers[0]!)))
    .map((r) => (ms(r.handOvers[0]!) - ms(r.startedAt)) / 1000);
  const handedOver = group.filter((r) => r.handOvers.length > 0);
  const auto = share(handedOver.filter((r) => r.escalations.length === 0).length, handedOver.length);
  const merged = group.filter((r) => r.prState === 'merged' && r.prClosedAt && r.handOvers.length > 0);
  const byIssue = peersByIssue(peers);
  const escaped = accepted.filter((r) =>
    (byIssue.get(r.identifier) ?? []).some((p) => p.runId !== r.runId && ms(p.startedAt) > acceptedAt(r, sentBack)!),
  );
  const costs = group.map((r) => r.costUsd);

  return {
    runs,
    accepted_changes: accepted.length,
    interventions,
    mean_time_between_interventions_s: per(sum(workingMs) / 1000, interventions),
    longest_unattended_run_s: unattended.length ? round(Math.max(...unattended)) : null,
    escalation_rate: per(
      sum((r) => r.escalations.length),
      runs,
    ),
    auto_approved_share: auto,
    escalated_share: auto === null ? null : round(1 - auto),
    agent_actions_per_instruction: per(
      sum((r) => r.toolCalls),
      runs === 0 ? 0 : runs + interventions + sum((r) => r.reworkRounds),
    ),
    review_time_s: per(
      sum((r) => (ms(r.prClosedAt!) - ms(r.handOvers.at(-1)!)) / 1000, merged),
      merged.length,
    ),
    rework_rate: share(
      group.filter((r) => r.reworkRounds > 0 || r.reviewSendBacks > 0 || sentBack.has(r.runId)).length,
      runs,
    ),
    defect_escape_rate: share(escaped.length, accepted.length),
    tokens_per_accepted_change: per(
      sum((r) => r.tokens),
      accepted.length,
    ),
    usd_per_accepted_change: costs.some((c) => c === null)
      ? null
      : per(
          costs.reduce<number>((n, c) => n + (c ?? 0), 0),
          accepted.length,
        ),
  };
}

const peerIndex = new WeakMap<RunRecord[], Map<string, RunRecord[]>>();

/** `peers` grouped by issue identifier (built once per array). */
function peersByIssue(peers: RunRecord[]): Map<string, RunRecord[]> {
  let index = peerIndex.get(peers);
  if (!index) {
    index = new Map();
    for (const p of peers) {
      const list = index.get(p.identifier);
      if (list) list.push(p);
      else index.set(p.identifier, [p]);
    }
    peerIndex.set(peers, index);
  }
  return index;
}

/** `YYYY-MM-DD` of epoch ms `t` in UTC. */
export function utcDate(t: number): string {
  return new Date(t).toISOString().slice(0, 10);
}

/**
 * The metrics report over the `days` UTC days ending today (`now`, epoch ms): `current` over every
 * run started in the window, `daily` per start day. `records` are one deployment's runs (any age).
 * @throws RangeError when `days` is not an integer from 1 to 366.
 */
export function computeMetrics(records: RunRecord[], o: { now: number; days: number }): MetricsReport {
  if (!Number.isInteger(o.days) || o.days < 1 || o.days > 366) {
    throw new RangeError(`days must be an integer from 1 to 366, not ${o.days}`);
  }
  const first = Math.floor(o.now / DAY_MS) * DAY_MS - (o.days - 1) * DAY_MS;
  const inWindow = records.filter((r) => ms(r.startedAt) >= first && ms(r.startedAt) <= o.now);
  const byDay = new Map<string, RunRecord[]>();
  for (const r of inWindow) {
    const date = utcDate(ms(r.startedAt));
    const list = byDay.get(date);
    if (list) list.push(r);
    else byDay.set(date, [r]);
  }
  const daily: MetricsReport['daily'] = [];
  for (let i = 0; i < o.days; i++) {
    const date = utcDate(first + i * DAY_MS);
    daily.push({ date, ...metricValues(byDay.get(date) ?? [], records) });
  }
  return {
    generated_at: new Date(o.now).toISOString(),
    window_days: o.days,
    definitions: METRIC_DEFINITIONS,
    current: metricValues(inWindow, records),
    daily,
  };
}
