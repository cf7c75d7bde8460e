/**
 * `createIssue` for Linear: finds an issue of the scope whose description carries the key's
 * marker, else files one with `issueCreate` in the scope's team (and project), resolving the
 * state name and label names to ids (creating missing team labels).
 */
import { TrackerError } from '../../errors.js';
import { splitMarker, withIssueMarker } from '../marker.js';
import { checkNewIssue, normalizeName } from '../shared.js';
import type { CreatedIssue, Issue, NewIssue } from '../types.js';
import { unsuccessful } from './client.js';
import { findTeamState, listIssues, scoped, type LinearContext } from './context.js';
import {
  ISSUE_CREATE_MUTATION,
  ISSUE_LABELS_QUERY,
  ISSUE_LABEL_CREATE_MUTATION,
  PROJECTS_QUERY,
  TEAMS_QUERY,
  idNodeSchema,
  labelSchema,
  mutationResultSchema,
  teamSchema,
  type MutationResult,
} from './queries.js';

/**
 * Files `input` once per key (see `NewIssue`): an issue of the scope whose description carries
 * the key's marker is returned as is (`created: false`).
 *
 * @throws TrackerError `tracker_payload_invalid` (bad key/title/state), `tracker_team_unknown`
 *   (no `teamKey`, or no team with it), `tracker_state_unknown`, `tracker_not_found` (the
 *   project scope matches no project), and the transport codes.
 */
export async function createIssue(ctx: LinearContext, input: NewIssue): Promise<CreatedIssue> {
  const { key, title, state } = checkNewIssue(input);
  return ctx.serialized(`create\0${key}`, async (): Promise<CreatedIssue> => {
    const existing = await findByKey(ctx, key);
    if (existing !== null) return { issue: existing, created: false };
    const team = await resolveTeam(ctx);
    const stateNode = await findTeamState(ctx, team, state, `new issue "${title}"`);
    const labelIds = await resolveLabels(ctx, team.id, input.labels ?? []);
    const projectId = await resolveProject(ctx);
    const fields: Record<string, unknown> = {
      teamId: team.id,
      title,
      description: withIssueMarker(key, (input.description ?? '').trim()),
      stateId: stateNode.id,
    };
    if (labelIds.length > 0) fields.labelIds = labelIds;
    if (input.priority !== undefined) fields.priority = input.priority;
    if (projectId !== null) fields.projectId = projectId;
    if (input.createdAt !== undefined) fields.createdAt = input.createdAt;
    const { api } = ctx;
    const data = await api.request('issueCreate', ISSUE_CREATE_MUTATION, { input: fields });
    const res = api.parse('issueCreate', mutationResultSchema('issueCreate', 'issue'), data)
      .issueCreate as MutationResult;
    if (!res.success || !res.issue) throw unsuccessful('issueCreate');
    const [issue] = await listIssues(ctx, 'issues', { id: { in: [res.issue.id] } }, true);
    if (issue === undefined) {
      throw new TrackerError(
        'tracker_not_found',
        `Linear issueCreate: the new issue ${res.issue.id} cannot be read back`,
      );
    }
    return { issue, created: true };
  });
}

/** The scope's issue whose description carries the marker of `key`, or null. */
async function findByKey(ctx: LinearContext, key: string): Promise<Issue | null> {
  // `contains` on the marker's inner text also finds HTML- or backslash-escaped markers.
  const filter = scoped(ctx, { description: { contains: `foreman:key=${key}` } });
  const issues = await listIssues(ctx, 'issues', filter, false);
  return issues.find((i) => splitMarker(i.description ?? '').key === key) ?? null;
}

async function resolveTeam(ctx: LinearContext): Promise<{ id: string; key: string }> {
  const teamKey = ctx.teamKey;
  if (teamKey === null) {
    throw new TrackerError(
      'tracker_team_unknown',
      'Linear createIssue needs a team: set tracker.provider.team_key (e.g. ENG)',
      { retryable: false },
    );
  }
  const nodes = await ctx.api.paginate('teams', TEAMS_QUERY, 'teams', { filter: { key: { eqIgnoreCase: teamKey } } });
  const team = nodes.map((n) => ctx.api.parse('teams', teamSchema, n))[0];
  if (team === undefined) {
    throw new TrackerError(
      'tracker_team_unknown',
      `Linear has no team with key "${teamKey}"; fix tracker.provider.team_key`,
      {
        retryable: false,
      },
    );
  }
  return team;
}

/** Label ids for `names` (case-insensitive); a name Linear lacks becomes a new label of the team. */
async function resolveLabels(ctx: LinearContext, teamId: string, names: string[]): Promise<string[]> {
  const wanted = [
    ...new Map(
      names
        .map((n) => n.trim())
        .filter((n) => n !== '')
        .map((n) => [normalizeName(n), n]),
    ).values(),
  ];
  if (wanted.length === 0) return [];
  const { api } = ctx;
  const nodes = await api.paginate('issueLabels', ISSUE_LABELS_QUERY, 'issueLabels', {
    filter: { or: wanted.map((n) => ({ name: { eqIgnoreCase: n } })) },
  });
  const known = new Map<string, string>();
  for (const node of nodes) {
    const label = api.parse('issueLabels', labelSchema, node);
    if (!known.has(normalizeName(label.name))) known.set(normalizeName(label.name), label.id);
  }
  const ids: string[] = [];
  for (const name of wanted) {
    let id = known.get(normalizeName(name));
    if (id === undefined) {
      const data = await api.request('issueLabelCreate', ISSUE_LABEL_CREATE_MUTATION, { input: { name, teamId } });
      const res = api.parse('issueLabelCreate', mutationResultSchema('issueLabelCreate', 'issueLabel'), data)
        .issueLabelCreate as MutationResult;
      if (!res.success || !res.issueLabel) throw unsuccessful('issueLabelCreate');
      id = res.issueLabel.id;
    }
    ids.push(id);
  }
  return ids;
}

/** The project id of the scope, or null without a project scope. */
async function resolveProject(ctx: LinearContext): Promise<string | null> {
  if (ctx.project === null) return null;
  const nodes = await ctx.api.paginate('projects', PROJECTS_QUERY, 'projects', { filter: ctx.project.filter });
  const project = nodes.map((n) => ctx.api.parse('projects', idNodeSchema, n))[0];
  if (project === undefined) {
    throw new TrackerError(
      'tracker_not_found',
      `Linear has no project "${ctx.project.raw}"; fix tracker.provider.project_slug`,
      { retryable: false },
    );
  }
  return project.id;
}
