/**
 * A local Linear GraphQL server for tests: `POST /graphql` over node:http on 127.0.0.1 (a free
 * port), speaking Linear's wire format closely enough for `@linear/sdk`'s `rawRequest` and the
 * Foreman Linear adapter.
 *
 * Owns: a small GraphQL parser and executor (operations, aliases, arguments with variables and
 * literals, nested selections — no fragments), an in-memory workspace (teams, workflow states,
 * projects, users, labels, issues, relations, comments, attachments) that tests seed, inspect and
 * the adapter creates (`issueCreate`, `issueLabelCreate`, `commentCreate`, …),
 * the Linear filter comparators the adapter uses, cursor pagination, auth by API key, and fault
 * injection (auth error, rate limit with headers, 5xx, malformed JSON, GraphQL error, bad shape,
 * dropped connection, no answer).
 *
 * Trust fields (specs/trust.md): users carry `guest`, `app` and `teams` (team membership; a user
 * without `teamIds` is a member of every team), issues their `creator` and a `history` whose
 * entries record `addedLabelIds` with the `actor` (labels applied through `labelIssue` or at
 * creation), and `user(id)` is a root field.
 *
 * Does not own: Linear's full schema. Selecting a field the fake does not model fails with a
 * GraphQL validation error (HTTP 400), as a typo would against Linear.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

// ---------------------------------------------------------------------------------------------
// Workspace model

export interface FakeTeam {
  id: string;
  key: string;
  name: string;
}
export interface FakeWorkflowState {
  id: string;
  teamId: string;
  name: string;
  /** Linear's state type: backlog, unstarted, started, completed, canceled, triage. */
  type: string;
  position: number;
}
export interface FakeProject {
  id: string;
  name: string;
  /** The URL slug id (the hex tail of the project URL). */
  slugId: string;
}
export interface FakeUser {
  id: string;
  name: string;
  displayName: string;
  email: string;
  /** A guest of the workspace (Linear `User.guest`). */
  guest?: boolean;
  /** An app or integration user (Linear `User.app`). */
  app?: boolean;
  /** Teams the user is a member of; absent = every team. */
  teamIds?: string[];
}
/** One entry of an issue's history (Linear `IssueHistory`, the fields Foreman reads). */
export interface FakeHistory {
  id: string;
  actorId: string | null;
  addedLabelIds: string[];
  createdAt: string;
}
export interface FakeLabel {
  id: string;
  name: string;
}
export interface FakeIssue {
  id: string;
  teamId: string;
  number: number;
  title: string;
  description: string | null;
  /** 0 none, 1 urgent … 4 low (a Float in Linear's schema). */
  priority: number;
  stateId: string;
  projectId: string | null;
  assigneeId: string | null;
  labelIds: string[];
  branchName: string;
  createdAt: string;
  updatedAt: string;
  /** Who created the issue (Linear `Issue.creator`); absent = the viewer. */
  creatorId?: string | null;
  /** Oldest first. */
  history?: FakeHistory[];
}
export interface FakeRelation {
  id: string;
  /** blocks, duplicate, related, similar. */
  type: string;
  /** The issue the relation belongs to (`issue`: for `blocks`, the blocker). */
  issueId: string;
  /** The other issue (`relatedIssue`: for `blocks`, the blocked one). */
  relatedIssueId: string;
}
export interface FakeComment {
  id: string;
  issueId: string;
  body: string;
  userId: string | null;
  createdAt: string;
  updatedAt: string;
  editedAt: string | null;
}
export interface FakeAttachment {
  id: string;
  issueId: string;
  url: string;
  title: string;
  createdAt: string;
}

/** One request the fake received. */
export interface RecordedRequest {
  /** `query` or `mutation`. */
  operation: string;
  /** The operation name in the query text (Linear's SDK sends no `operationName`). */
  name: string | null;
  /** Root fields selected, e.g. `['issues']`. */
  rootFields: string[];
  variables: Record<string, unknown>;
  /** The raw `Authorization` header. */
  authorization: string | undefined;
  query: string;
}

/** A failure the next matching request(s) get instead of an answer. */
export type Fault =
  | { kind: 'unauthorized'; status?: number }
  | { kind: 'forbidden'; status?: number }
  | {
      kind: 'rate_limited';
      status?: number;
      /** `Retry-After` header, seconds. */
      retryAfterS?: number;
      /** `X-RateLimit-Requests-Reset` header, epoch ms. */
      resetAtMs?: number;
    }
  | { kind: 'server_error'; status?: number; body?: string }
  | { kind: 'malformed_json' }
  | { kind: 'graphql_error'; message?: string; code?: string; type?: string; status?: number }
  | { kind: 'bad_shape' }
  | { kind: 'drop' }
  /** Never answers (until the fake closes). */
  | { kind: 'hang' };

/** Options of `injectFault`. */
export interface FaultOptions {
  /** Only requests selecting this root field. (Default: any request) */
  rootField?: string;
  /** How many requests get the fault. (Default: 1) */
  times?: number;
}

/** Seed input of `addIssue`. */
export interface NewIssue {
  /** Team key. (Default: the first team) */
  team?: string;
  title: string;
  /** State name in the team. (Default: `Todo`) */
  state?: string;
  description?: string | null;
  priority?: number;
  /** Label names (created on first use). */
  labels?: string[];
  /** Project id or slugId. */
  project?: string;
  /** User id or email, or `viewer`. */
  assignee?: string;
  branchName?: string;
  createdAt?: string;
  updatedAt?: string;
  /** User id or email, or `viewer` (the default). */
  creator?: string;
}

/** The running fake. */
export interface FakeLinear {
  /** GraphQL endpoint, e.g. `http://127.0.0.1:41234/graphql`. */
  readonly url: string;
  /** The API key the fake accepts (the user it authenticates is `viewer`). */
  readonly apiKey: string;
  readonly viewer: FakeUser;
  readonly teams: FakeTeam[];
  readonly states: FakeWorkflowState[];
  readonly projects: FakeProject[];
  readonly users: FakeUser[];
  readonly labels: FakeLabel[];
  readonly issues: FakeIssue[];
  readonly relations: FakeRelation[];
  readonly comments: FakeComment[];
  readonly attachments: FakeAttachment[];
  /** Every request received, oldest first. */
  readonly requests: RecordedRequest[];

  addTeam(team: { key: string; name?: string; states?: (string | { name: string; type: string })[] }): FakeTeam;
  addProject(project: { name: string; slugId?: string }): FakeProject;
  addUser(user: {
    name: string;
    email: string;
    displayName?: string;
    guest?: boolean;
    app?: boolean;
    teamIds?: string[];
  }): FakeUser;
  /** Applies the label `name` (created on first use) to the issue as `user` (id or email), recorded in its history. */
  labelIssue(issueId: string, name: string, user: string): void;
  addIssue(issue: NewIssue): FakeIssue;
  /** `blocker` blocks `blocked` (a `blocks` relation on the blocker). */
  addBlocker(blockerId: string, blockedId: string): FakeRelation;
  addRelation(type: string, issueId: string, relatedIssueId: string): FakeRelation;
  addComment(issueId: string, body: string, opts?: { user?: string | null; createdAt?: string }): FakeComment;
  addAttachment(issueId: string, url: string, title?: string): FakeAttachment;
  /** Issue by id or identifier. */
  issue(idOrIdentifier: string): FakeIssue | undefined;
  identifier(issue: FakeIssue): string;
  stateName(issue: FakeIssue): string;
  /** Queues a fault for the next matching request(s). */
  injectFault(fault: Fault, opts?: FaultOptions): void;
  /** Clears recorded requests. */
  clearRequests(): void;
  close(): Promise<void>;
}

/** The workflow states a new team gets: name and Linear state type. */
export const DEFAULT_STATES: { name: string; type: string }[] = [
  { name: 'Backlog', type: 'backlog' },
  { name: 'Todo', type: 'unstarted' },
  { name: 'In Progress', type: 'started' },
  { name: 'Human Review', type: 'started' },
  { name: 'Done', type: 'completed' },
  { name: 'Canceled', type: 'canceled' },
  { name: 'Duplicate', type: 'canceled' },
];

const ORG = 'acme';
const MAX_PAGE = 250;

/**
 * Starts the fake on 127.0.0.1 with one team (`ENG` unless `teamKey`) and its default states.
 * Close it with `close()` (tests: in `afterEach`/`afterAll`).
 */
export async function startFakeLinear(opts: { apiKey?: string; teamKey?: string } = {}): Promise<FakeLinear> {
  const apiKey = opts.apiKey ?? `lin_api_${randomUUID().replace(/-/g, '')}`;
  // A deterministic clock: every created thing is one second after the previous one.
  let clock = Date.parse('2026-01-05T10:00:00.000Z');
  const tick = () => new Date((clock += 1000)).toISOString();
  const faults: { fault: Fault; rootField?: string; left: number }[] = [];

  const teams: FakeTeam[] = [];
  const states: FakeWorkflowState[] = [];
  const projects: FakeProject[] = [];
  const users: FakeUser[] = [];
  const labels: FakeLabel[] = [];
  const issues: FakeIssue[] = [];
  const relations: FakeRelation[] = [];
  const comments: FakeComment[] = [];
  const attachments: FakeAttachment[] = [];
  const requests: RecordedRequest[] = [];

  const viewer: FakeUser = {
    id: randomUUID(),
    name: 'Foreman Bot',
    displayName: 'foreman-bot',
    email: 'foreman-bot@acme.test',
  };
  users.push(viewer);

  const teamByKey = (key: string) => teams.find((t) => t.key.toLowerCase() === key.toLowerCase());
  const identifier = (i: FakeIssue) => `${teams.find((t) => t.id === i.teamId)?.key ?? '?'}-${i.number}`;
  const findIssue = (idOrIdentifier: string) =>
    issues.find((i) => i.id === idOrIdentifier || identifier(i).toLowerCase() === idOrIdentifier.toLowerCase());
  const userRef = (ref: string) =>
    ref === 'viewer' ? viewer : users.find((u) => u.id === ref || u.email.toLowerCase() === ref.toLowerCase());

  const fake: FakeLinear = {
    url: '',
    apiKey,
    viewer,
    teams,
    states,
    projects,
    users,
    labels,
    issues,
    relations,
    comments,
    attachments,
    requests,

    addTeam({ key, name, states: names }) {
      const team: FakeTeam = { id: randomUUID(), key: key.toUpperCase(), name: name ?? key };
      teams.push(team);
      (names ?? DEFAULT_STATES).forEach((s, position) => {
        const st = typeof s === 'string' ? { name: s, type: 'started' } : s;
        states.push({ id: randomUUID(), teamId: team.id, name: st.name, type: st.type, position });
      });
      return team;
    },
    addProject({ name, slugId }) {
      const project: FakeProject = {
        id: randomUUID(),
        name,
        slugId: slugId ?? randomUUID().replace(/-/g, '').slice(0, 12),
      };
      projects.push(project);
      return project;
    },
    addUser({ name, email, displayName, guest, app, teamIds }) {
      const user: FakeUser = {
        id: randomUUID(),
        name,
        email,
        displayName: displayName ?? name.toLowerCase().replace(/\s+/g, ''),
        ...(guest !== undefined ? { guest } : {}),
        ...(app !== undefined ? { app } : {}),
        ...(teamIds !== undefined ? { teamIds } : {}),
      };
      users.push(user);
      return user;
    },
    addIssue(input) {
      const team = input.team ? teamByKey(input.team) : teams[0];
      if (!team) throw new Error(`fake-linear: no team ${input.team ?? '(none)'}`);
      const stateName = input.state ?? 'Todo';
      const state = states.find((s) => s.teamId === team.id && s.name === stateName);
      if (!state) throw new Error(`fake-linear: team ${team.key} has no state ${stateName}`);
      let projectId: string | null = null;
      if (input.project !== undefined) {
        const project = projects.find((p) => p.id === input.project || p.slugId === input.project);
        if (!project) throw new Error(`fake-linear: no project ${input.project}`);
        projectId = project.id;
      }
      let assigneeId: string | null = null;
      if (input.assignee !== undefined) {
        const user = userRef(input.assignee);
        if (!user) throw new Error(`fake-linear: no user ${input.assignee}`);
        assigneeId = user.id;
      }
      const labelIds = (input.labels ?? []).map((name) => {
        let label = labels.find((l) => l.name === name);
        if (!label) {
          label = { id: randomUUID(), name };
          labels.push(label);
        }
        return label.id;
      });
      const creator = userRef(input.creator ?? 'viewer');
      if (!creator) throw new Error(`fake-linear: no user ${input.creator}`);
      const number = issues.filter((i) => i.teamId === team.id).length + 1;
      const createdAt = input.createdAt ?? tick();
      const issue: FakeIssue = {
        id: randomUUID(),
        teamId: team.id,
        number,
        title: input.title,
        description: input.description ?? null,
        priority: input.priority ?? 0,
        stateId: state.id,
        projectId,
        assigneeId,
        labelIds,
        branchName:
          input.branchName ?? `${viewer.displayName}/${team.key.toLowerCase()}-${number}-${slugify(input.title)}`,
        createdAt,
        updatedAt: input.updatedAt ?? createdAt,
        creatorId: creator.id,
        history:
          labelIds.length > 0 ? [{ id: randomUUID(), actorId: creator.id, addedLabelIds: labelIds, createdAt }] : [],
      };
      issues.push(issue);
      return issue;
    },
    addBlocker(blockerId, blockedId) {
      return fake.addRelation('blocks', blockerId, blockedId);
    },
    addRelation(type, issueId, relatedIssueId) {
      const relation: FakeRelation = { id: randomUUID(), type, issueId, relatedIssueId };
      relations.push(relation);
      return relation;
    },
    addComment(issueId, body, o = {}) {
      const user = o.user === null ? null : userRef(o.user ?? 'viewer');
      if (user === undefined) throw new Error(`fake-linear: no user ${o.user}`);
      const at = o.createdAt ?? tick();
      const comment: FakeComment = {
        id: randomUUID(),
        issueId,
        body,
        userId: user?.id ?? null,
        createdAt: at,
        updatedAt: at,
        editedAt: null,
      };
      comments.push(comment);
      return comment;
    },
    addAttachment(issueId, url, title) {
      const attachment: FakeAttachment = { id: randomUUID(), issueId, url, title: title ?? url, createdAt: tick() };
      attachments.push(attachment);
      return attachment;
    },
    labelIssue(issueId, name, userId) {
      const issue = findIssue(issueId);
      const user = userRef(userId);
      if (!issue || !user) throw new Error(`fake-linear: no issue ${issueId} or user ${userId}`);
      let label = labels.find((l) => l.name === name);
      if (!label) {
        label = { id: randomUUID(), name };
        labels.push(label);
      }
      if (!issue.labelIds.includes(label.id)) issue.labelIds.push(label.id);
      const at = tick();
      (issue.history ??= []).push({ id: randomUUID(), actorId: user.id, addedLabelIds: [label.id], createdAt: at });
      issue.updatedAt = at;
    },
    issue: findIssue,
    identifier,
    stateName(issue) {
      return states.find((s) => s.id === issue.stateId)?.name ?? '?';
    },
    injectFault(fault, o = {}) {
      faults.push({ fault, ...(o.rootField ? { rootField: o.rootField } : {}), left: o.times ?? 1 });
    },
    clearRequests() {
      requests.length = 0;
    },
    close: async () => {},
  };

  fake.addTeam({ key: opts.teamKey ?? 'ENG', name: 'Engineering' });

  // -------------------------------------------------------------------------------------------
  // Views: plain objects with Linear's field names; relations are functions so cycles stay lazy.

  type View = { __typename: string; [field: string]: unknown };
  type Args = Record<string, unknown>;

  const issueUrl = (i: FakeIssue) => `https://linear.app/${ORG}/issue/${identifier(i)}/${slugify(i.title)}`;
  const teamView = (t: FakeTeam): View => ({
    __typename: 'Team',
    id: t.id,
    key: t.key,
    name: t.name,
    states: (a: Args) => connection(states.filter((s) => s.teamId === t.id).map(stateView), a),
  });
  const stateView = (s: FakeWorkflowState): View => ({
    __typename: 'WorkflowState',
    id: s.id,
    name: s.name,
    type: s.type,
    position: s.position,
    color: '#bec2c8',
    team: () => teamView(teams.find((t) => t.id === s.teamId) as FakeTeam),
  });
  const projectView = (p: FakeProject): View => ({
    __typename: 'Project',
    id: p.id,
    name: p.name,
    slugId: p.slugId,
    url: `https://linear.app/${ORG}/project/${slugify(p.name)}-${p.slugId}`,
  });
  const userView = (u: FakeUser): View => ({
    __typename: 'User',
    id: u.id,
    name: u.name,
    displayName: u.displayName,
    email: u.email,
    active: true,
    isMe: u.id === viewer.id,
    guest: u.guest ?? false,
    app: u.app ?? false,
    teams: (a: Args) =>
      connection(teams.filter((t) => u.teamIds === undefined || u.teamIds.includes(t.id)).map(teamView), a),
  });
  const historyView = (h: FakeHistory): View => ({
    __typename: 'IssueHistory',
    id: h.id,
    createdAt: h.createdAt,
    actorId: h.actorId,
    addedLabelIds: h.addedLabelIds,
    actor: () => {
      const u = users.find((x) => x.id === h.actorId);
      return u ? userView(u) : null;
    },
  });
  const labelView = (l: FakeLabel): View => ({ __typename: 'IssueLabel', id: l.id, name: l.name, color: '#5e6ad2' });
  const relationView = (r: FakeRelation): View => ({
    __typename: 'IssueRelation',
    id: r.id,
    type: r.type,
    issue: () => issueView(findIssue(r.issueId) as FakeIssue),
    relatedIssue: () => issueView(findIssue(r.relatedIssueId) as FakeIssue),
  });
  const commentView = (c: FakeComment): View => {
    const issue = findIssue(c.issueId) as FakeIssue;
    return {
      __typename: 'Comment',
      id: c.id,
      body: c.body,
      createdAt: c.createdAt,
      updatedAt: c.updatedAt,
      editedAt: c.editedAt,
      issueId: c.issueId,
      parentId: null,
      url: `${issueUrl(issue)}#comment-${c.id.slice(0, 8)}`,
      user: () => {
        const u = users.find((x) => x.id === c.userId);
        return u ? userView(u) : null;
      },
      botActor: () => null,
      issue: () => issueView(issue),
    };
  };
  const attachmentView = (a: FakeAttachment): View => ({
    __typename: 'Attachment',
    id: a.id,
    url: a.url,
    title: a.title,
    subtitle: null,
    createdAt: a.createdAt,
    updatedAt: a.createdAt,
    issue: () => issueView(findIssue(a.issueId) as FakeIssue),
  });
  const issueView = (i: FakeIssue): View => ({
    __typename: 'Issue',
    id: i.id,
    identifier: identifier(i),
    number: i.number,
    title: i.title,
    description: i.description,
    priority: i.priority,
    priorityLabel: ['No priority', 'Urgent', 'High', 'Medium', 'Low'][i.priority] ?? 'No priority',
    branchName: i.branchName,
    url: issueUrl(i),
    createdAt: i.createdAt,
    updatedAt: i.updatedAt,
    archivedAt: null,
    state: () => stateView(states.find((s) => s.id === i.stateId) as FakeWorkflowState),
    team: () => teamView(teams.find((t) => t.id === i.teamId) as FakeTeam),
    project: () => {
      const p = projects.find((x) => x.id === i.projectId);
      return p ? projectView(p) : null;
    },
    assignee: () => {
      const u = users.find((x) => x.id === i.assigneeId);
      return u ? userView(u) : null;
    },
    creator: () => {
      const u = users.find((x) => x.id === (i.creatorId === undefined ? viewer.id : i.creatorId));
      return u ? userView(u) : null;
    },
    history: (a: Args) => connection((i.history ?? []).map(historyView), a),
    labels: (a: Args) =>
      connection(
        i.labelIds.map((id) => labelView(labels.find((l) => l.id === id) as FakeLabel)),
        a,
      ),
    relations: (a: Args) => connection(relations.filter((r) => r.issueId === i.id).map(relationView), a),
    inverseRelations: (a: Args) => connection(relations.filter((r) => r.relatedIssueId === i.id).map(relationView), a),
    comments: (a: Args) => connection(comments.filter((c) => c.issueId === i.id).map(commentView), a),
    attachments: (a: Args) => connection(attachments.filter((x) => x.issueId === i.id).map(attachmentView), a),
  });

  /** A Relay-style connection: `filter` applied, then `first`/`after` (the cursor is a node id). */
  const connection = (nodes: View[], args: Args): View => {
    let list = nodes;
    if (isObject(args.filter)) list = list.filter((n) => matches(n, args.filter as Args));
    const first = args.first === undefined || args.first === null ? 50 : Number(args.first);
    if (!Number.isInteger(first) || first < 0 || first > MAX_PAGE)
      throw userError(`first must be between 0 and ${MAX_PAGE}`);
    let start = 0;
    if (typeof args.after === 'string') {
      const at = list.findIndex((n) => n.id === args.after);
      if (at === -1) throw userError('Invalid cursor');
      start = at + 1;
    }
    const page = list.slice(start, start + first);
    const hasNextPage = start + first < list.length;
    return {
      __typename: 'Connection',
      nodes: page,
      pageInfo: {
        __typename: 'PageInfo',
        hasNextPage,
        hasPreviousPage: start > 0,
        startCursor: (page[0]?.id as string | undefined) ?? null,
        endCursor: (page[page.length - 1]?.id as string | undefined) ?? null,
      },
    };
  };

  // -------------------------------------------------------------------------------------------
  // Root fields

  const notFound = (type: string) =>
    new GraphQLFailure(`Entity not found: ${type}`, {
      type: 'invalid input',
      code: 'INPUT_ERROR',
      userPresentableMessage: `Could not find referenced ${type}.`,
    });

  const requireIssue = (id: unknown): FakeIssue => {
    const issue = typeof id === 'string' ? findIssue(id) : undefined;
    if (!issue) throw notFound('Issue');
    return issue;
  };

  const queryRoot: Record<string, (a: Args) => unknown> = {
    viewer: () => userView(viewer),
    issues: (a) => connection(issues.map(issueView), a),
    issue: (a) => issueView(requireIssue(a.id)),
    user: (a) => {
      const u = typeof a.id === 'string' ? userRef(a.id) : undefined;
      if (!u) throw notFound('User');
      return userView(u);
    },
    comments: (a) => connection(comments.map(commentView), a),
    workflowStates: (a) => connection(states.map(stateView), a),
    teams: (a) => connection(teams.map(teamView), a),
    team: (a) => {
      const t = teams.find((x) => x.id === a.id || x.key === a.id);
      if (!t) throw notFound('Team');
      return teamView(t);
    },
    projects: (a) => connection(projects.map(projectView), a),
    issueLabels: (a) => connection(labels.map(labelView), a),
  };

  const payload = (typename: string, field: string, value: View | null): View => ({
    __typename: typename,
    success: true,
    lastSyncId: clock / 1000,
    [field]: value,
  });

  const mutationRoot: Record<string, (a: Args) => unknown> = {
    commentCreate: (a) => {
      const input = isObject(a.input) ? a.input : {};
      const issue = requireIssue(input.issueId);
      if (typeof input.body !== 'string' || input.body.trim() === '') throw userError('Comment body cannot be empty');
      const at = tick();
      const c: FakeComment = {
        id: randomUUID(),
        issueId: issue.id,
        body: input.body,
        userId: viewer.id,
        createdAt: at,
        updatedAt: at,
        editedAt: null,
      };
      comments.push(c);
      return payload('CommentPayload', 'comment', commentView(c));
    },
    commentUpdate: (a) => {
      const c = comments.find((x) => x.id === a.id);
      if (!c) throw notFound('Comment');
      const input = isObject(a.input) ? a.input : {};
      if (typeof input.body === 'string') {
        c.body = input.body;
        c.updatedAt = c.editedAt = tick();
      }
      return payload('CommentPayload', 'comment', commentView(c));
    },
    issueCreate: (a) => {
      const input = isObject(a.input) ? a.input : {};
      const team = teams.find((t) => t.id === input.teamId);
      if (!team) throw notFound('Team');
      if (typeof input.title !== 'string' || input.title.trim() === '') throw userError('Title cannot be empty');
      const stateId = input.stateId ?? states.find((s) => s.teamId === team.id && s.type === 'unstarted')?.id;
      const state = states.find((s) => s.id === stateId);
      if (!state) throw notFound('WorkflowState');
      if (state.teamId !== team.id) throw userError('Workflow state does not belong to the issue team');
      const labelIds = Array.isArray(input.labelIds) ? input.labelIds.map(String) : [];
      if (labelIds.some((id) => !labels.some((l) => l.id === id))) throw notFound('IssueLabel');
      if (input.projectId !== undefined && !projects.some((p) => p.id === input.projectId)) throw notFound('Project');
      const priority = input.priority === undefined ? 0 : Number(input.priority);
      if (!Number.isInteger(priority) || priority < 0 || priority > 4) throw userError('priority must be 0 to 4');
      const number = issues.filter((i) => i.teamId === team.id).length + 1;
      const createdAt = typeof input.createdAt === 'string' ? new Date(input.createdAt).toISOString() : tick();
      const issue: FakeIssue = {
        id: randomUUID(),
        teamId: team.id,
        number,
        title: input.title,
        description: typeof input.description === 'string' ? input.description : null,
        priority,
        stateId: state.id,
        projectId: typeof input.projectId === 'string' ? input.projectId : null,
        assigneeId: typeof input.assigneeId === 'string' ? input.assigneeId : null,
        labelIds,
        branchName: `${viewer.displayName}/${team.key.toLowerCase()}-${number}-${slugify(input.title)}`,
        createdAt,
        updatedAt: createdAt,
      };
      issues.push(issue);
      return payload('IssuePayload', 'issue', issueView(issue));
    },
    issueLabelCreate: (a) => {
      const input = isObject(a.input) ? a.input : {};
      if (typeof input.name !== 'string' || input.name.trim() === '') throw userError('Label name cannot be empty');
      if (input.teamId !== undefined && !teams.some((t) => t.id === input.teamId)) throw notFound('Team');
      if (labels.some((l) => l.name.toLowerCase() === String(input.name).toLowerCase()))
        throw userError('A label with this name already exists');
      const label: FakeLabel = { id: randomUUID(), name: input.name };
      labels.push(label);
      return payload('IssueLabelPayload', 'issueLabel', labelView(label));
    },
    issueUpdate: (a) => {
      const issue = requireIssue(a.id);
      const input = isObject(a.input) ? a.input : {};
      if (input.stateId !== undefined) {
        const state = states.find((s) => s.id === input.stateId);
        if (!state) throw notFound('WorkflowState');
        if (state.teamId !== issue.teamId) throw userError('Workflow state does not belong to the issue team');
        issue.stateId = state.id;
      }
      if (typeof input.title === 'string') issue.title = input.title;
      issue.updatedAt = tick();
      return payload('IssuePayload', 'issue', issueView(issue));
    },
    attachmentLinkURL: (a) => {
      const issue = requireIssue(a.issueId);
      if (typeof a.url !== 'string' || !/^https?:\/\//.test(a.url)) throw userError('url must be a valid URL');
      // Linear keeps one attachment per URL and issue; linking again updates it.
      let att = attachments.find((x) => x.issueId === issue.id && x.url === a.url);
      if (att) {
        if (typeof a.title === 'string') att.title = a.title;
      } else {
        att = {
          id: randomUUID(),
          issueId: issue.id,
          url: a.url,
          title: typeof a.title === 'string' ? a.title : a.url,
          createdAt: tick(),
        };
        attachments.push(att);
      }
      return payload('AttachmentPayload', 'attachment', attachmentView(att));
    },
  };

  // -------------------------------------------------------------------------------------------
  // HTTP

  const server = createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, { errors: [{ message: `fake-linear crashed: ${String(err)}` }] });
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST' || (req.url ?? '').split('?')[0] !== '/graphql') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found');
      return;
    }
    let body: { query?: unknown; variables?: unknown };
    try {
      body = JSON.parse(await readBody(req)) as typeof body;
    } catch {
      send(res, 400, { errors: [{ message: 'POST body sent invalid JSON.', extensions: { code: 'BAD_REQUEST' } }] });
      return;
    }
    const query = typeof body.query === 'string' ? body.query : '';
    const variables = isObject(body.variables) ? body.variables : {};
    let doc: Operation;
    try {
      doc = parseOperation(query);
    } catch (err) {
      send(res, 400, {
        errors: [
          {
            message: `Syntax Error: ${(err as Error).message}`,
            extensions: { code: 'GRAPHQL_PARSE_FAILED', type: 'graphql error' },
          },
        ],
      });
      return;
    }
    const rootFields = doc.selections.map((s) => s.name);
    requests.push({
      operation: doc.operation,
      name: doc.name,
      rootFields,
      variables,
      authorization: req.headers.authorization,
      query,
    });

    const faultAt = faults.findIndex(
      (f) => f.left > 0 && (f.rootField === undefined || rootFields.includes(f.rootField)),
    );
    if (faultAt !== -1) {
      const entry = faults[faultAt] as (typeof faults)[number];
      entry.left -= 1;
      if (entry.left <= 0) faults.splice(faultAt, 1);
      sendFault(req, res, entry.fault, rootFields[0] ?? 'data');
      return;
    }

    if (req.headers.authorization !== apiKey) {
      sendAuthError(res, 400);
      return;
    }

    const root = doc.operation === 'mutation' ? mutationRoot : queryRoot;
    const data: Record<string, unknown> = {};
    try {
      for (const sel of doc.selections) {
        const resolver = root[sel.name];
        if (!resolver)
          throw new ValidationFailure(
            `Cannot query field "${sel.name}" on type "${doc.operation === 'mutation' ? 'Mutation' : 'Query'}".`,
          );
        const args = evalArgs(sel.args, variables);
        data[sel.alias ?? sel.name] = project(resolver(args), sel.selections, sel.name, variables);
      }
    } catch (err) {
      if (err instanceof ValidationFailure) {
        send(res, 400, {
          errors: [{ message: err.message, extensions: { code: 'GRAPHQL_VALIDATION_FAILED', type: 'graphql error' } }],
        });
        return;
      }
      if (err instanceof GraphQLFailure) {
        send(res, 200, {
          data: null,
          errors: [
            { message: err.message, path: rootFields.slice(0, 1), extensions: { ...err.extensions, userError: true } },
          ],
        });
        return;
      }
      throw err;
    }
    send(res, 200, { data });
  }

  function sendAuthError(res: ServerResponse, status: number): void {
    send(res, status, {
      errors: [
        {
          message: 'Authentication required, not authenticated',
          extensions: {
            type: 'authentication error',
            code: 'AUTHENTICATION_ERROR',
            statusCode: 401,
            userError: true,
            userPresentableMessage: 'You need to authenticate to access this operation.',
          },
        },
      ],
    });
  }

  function sendFault(req: IncomingMessage, res: ServerResponse, fault: Fault, root: string): void {
    switch (fault.kind) {
      case 'unauthorized':
        sendAuthError(res, fault.status ?? 401);
        return;
      case 'forbidden':
        send(res, fault.status ?? 403, {
          errors: [
            {
              message: 'Forbidden',
              extensions: {
                type: 'forbidden',
                code: 'FORBIDDEN',
                userError: true,
                userPresentableMessage: 'You do not have access to this resource.',
              },
            },
          ],
        });
        return;
      case 'rate_limited': {
        const headers: Record<string, string> = {
          'x-ratelimit-requests-limit': '1500',
          'x-ratelimit-requests-remaining': '0',
        };
        if (fault.retryAfterS !== undefined) headers['retry-after'] = String(fault.retryAfterS);
        if (fault.resetAtMs !== undefined) headers['x-ratelimit-requests-reset'] = String(fault.resetAtMs);
        send(
          res,
          fault.status ?? 429,
          {
            errors: [
              {
                message: 'Rate limit exceeded',
                extensions: {
                  type: 'ratelimited',
                  code: 'RATELIMITED',
                  statusCode: 429,
                  userError: true,
                  userPresentableMessage: 'Too many requests, slow down.',
                },
              },
            ],
          },
          headers,
        );
        return;
      }
      case 'server_error':
        res
          .writeHead(fault.status ?? 500, { 'content-type': 'text/html' })
          .end(fault.body ?? '<html><body><h1>500 Internal Server Error</h1></body></html>');
        return;
      case 'malformed_json':
        res
          .writeHead(200, { 'content-type': 'application/json; charset=utf-8' })
          .end(`{"data":{"${root}":{"nodes":[{"id":`);
        return;
      case 'graphql_error':
        send(res, fault.status ?? 400, {
          errors: [
            {
              message: fault.message ?? 'Argument Validation Error',
              extensions: { type: fault.type ?? 'invalid input', code: fault.code ?? 'INPUT_ERROR', userError: true },
            },
          ],
        });
        return;
      case 'bad_shape':
        send(res, 200, { data: { [root]: { nodes: 'not-a-list', pageInfo: null } } });
        return;
      case 'drop':
        req.socket.destroy();
        return;
      case 'hang':
        return;
    }
  }

  /** Shapes a resolved value by the selection set, as a GraphQL executor does. */
  function project(value: unknown, selections: Selection[] | null, field: string, variables: Args): unknown {
    if (value === null || value === undefined) return null;
    if (Array.isArray(value)) return value.map((v) => project(v, selections, field, variables));
    if (isView(value)) {
      if (selections === null)
        throw new ValidationFailure(
          `Field "${field}" of type "${value.__typename}" must have a selection of subfields.`,
        );
      const out: Record<string, unknown> = {};
      for (const sel of selections) {
        if (sel.name === '__typename') {
          out[sel.alias ?? '__typename'] = value.__typename;
          continue;
        }
        if (!(sel.name in value))
          throw new ValidationFailure(`Cannot query field "${sel.name}" on type "${value.__typename}".`);
        const raw = value[sel.name];
        const resolved = typeof raw === 'function' ? (raw as (a: Args) => unknown)(evalArgs(sel.args, variables)) : raw;
        out[sel.alias ?? sel.name] = project(resolved, sel.selections, sel.name, variables);
      }
      return out;
    }
    if (selections !== null)
      throw new ValidationFailure(`Field "${field}" must not have a selection since it has no subfields.`);
    return value;
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  (fake as { url: string }).url = `http://127.0.0.1:${port}/graphql`;
  fake.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return fake;
}

// ---------------------------------------------------------------------------------------------
// Filters (Linear's comparators and nested entity filters)

const COMPARATORS = new Set([
  'eq',
  'neq',
  'in',
  'nin',
  'eqIgnoreCase',
  'neqIgnoreCase',
  'gt',
  'gte',
  'lt',
  'lte',
  'contains',
  'containsIgnoreCase',
  'startsWith',
  'endsWith',
  'null',
]);

function matches(view: Record<string, unknown>, filter: Record<string, unknown>): boolean {
  for (const [key, cond] of Object.entries(filter)) {
    if (cond === null || cond === undefined) continue;
    if (key === 'and') {
      if (!Array.isArray(cond) || !cond.every((f) => matches(view, f as Record<string, unknown>))) return false;
      continue;
    }
    if (key === 'or') {
      if (!Array.isArray(cond) || !cond.some((f) => matches(view, f as Record<string, unknown>))) return false;
      continue;
    }
    if (!(key in view))
      throw new ValidationFailure(`Field "${key}" is not defined by the filter type of ${String(view.__typename)}.`);
    const raw = view[key];
    const value = typeof raw === 'function' ? (raw as (a: Record<string, unknown>) => unknown)({}) : raw;
    if (!isObject(cond)) throw new ValidationFailure(`Filter "${key}" must be an object.`);
    const keys = Object.keys(cond);
    if (keys.length > 0 && keys.every((k) => COMPARATORS.has(k))) {
      if (!compare(value, cond)) return false;
    } else if (value === null) {
      return false;
    } else if (isObject(value)) {
      if (!matches(value, cond)) return false;
    } else {
      throw new ValidationFailure(`Filter "${key}" uses an unknown comparator: ${keys.join(', ')}.`);
    }
  }
  return true;
}

function compare(value: unknown, cond: Record<string, unknown>): boolean {
  const asTime = (v: unknown) => (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(v) ? Date.parse(v) : v);
  const lower = (v: unknown) => (typeof v === 'string' ? v.toLowerCase() : v);
  for (const [op, arg] of Object.entries(cond)) {
    const a = asTime(value);
    const b = asTime(arg);
    const ok = (() => {
      switch (op) {
        case 'eq':
          return value === arg;
        case 'neq':
          return value !== arg;
        case 'in':
          return Array.isArray(arg) && arg.includes(value);
        case 'nin':
          return Array.isArray(arg) && !arg.includes(value);
        case 'eqIgnoreCase':
          return lower(value) === lower(arg);
        case 'neqIgnoreCase':
          return lower(value) !== lower(arg);
        case 'gt':
          return (a as number) > (b as number);
        case 'gte':
          return (a as number) >= (b as number);
        case 'lt':
          return (a as number) < (b as number);
        case 'lte':
          return (a as number) <= (b as number);
        case 'contains':
          return typeof value === 'string' && typeof arg === 'string' && value.includes(arg);
        case 'containsIgnoreCase':
          return (
            typeof value === 'string' && typeof arg === 'string' && value.toLowerCase().includes(arg.toLowerCase())
          );
        case 'startsWith':
          return typeof value === 'string' && typeof arg === 'string' && value.startsWith(arg);
        case 'endsWith':
          return typeof value === 'string' && typeof arg === 'string' && value.endsWith(arg);
        case 'null':
          return (value === null) === arg;
        default:
          return false;
      }
    })();
    if (!ok) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// A minimal GraphQL parser: one operation, fields with aliases, arguments and selections.

interface Selection {
  alias: string | null;
  name: string;
  args: ArgNode[];
  selections: Selection[] | null;
}
interface ArgNode {
  name: string;
  value: ValueNode;
}
type ValueNode =
  | { kind: 'var'; name: string }
  | { kind: 'const'; value: unknown }
  | { kind: 'list'; items: ValueNode[] }
  | { kind: 'object'; fields: ArgNode[] };
interface Operation {
  operation: 'query' | 'mutation';
  name: string | null;
  selections: Selection[];
}

type Token =
  | { t: 'punct'; v: string }
  | { t: 'name'; v: string }
  | { t: 'string'; v: string }
  | { t: 'number'; v: number }
  | { t: 'var'; v: string };

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i] as string;
    if (/[\s,]/.test(c) || c === '\uFEFF') {
      i++;
    } else if (c === '#') {
      while (i < src.length && src[i] !== '\n') i++;
    } else if ('{}()[]:!=@'.includes(c)) {
      out.push({ t: 'punct', v: c });
      i++;
    } else if (c === '$') {
      const m = /^\$([_A-Za-z][_0-9A-Za-z]*)/.exec(src.slice(i));
      if (!m) throw new Error(`Expected a variable name at ${i}`);
      out.push({ t: 'var', v: m[1] as string });
      i += m[0].length;
    } else if (c === '"') {
      const m = /^"(?:[^"\\\n]|\\.)*"/.exec(src.slice(i));
      if (!m) throw new Error(`Unterminated string at ${i}`);
      out.push({ t: 'string', v: JSON.parse(m[0]) as string });
      i += m[0].length;
    } else if (/[-0-9]/.test(c)) {
      const m = /^-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(src.slice(i));
      if (!m) throw new Error(`Bad number at ${i}`);
      out.push({ t: 'number', v: Number(m[0]) });
      i += m[0].length;
    } else if (/[_A-Za-z]/.test(c)) {
      const m = /^[_A-Za-z][_0-9A-Za-z]*/.exec(src.slice(i)) as RegExpExecArray;
      out.push({ t: 'name', v: m[0] });
      i += m[0].length;
    } else if (src.startsWith('...', i)) {
      throw new Error('fragments are not supported by the fake');
    } else {
      throw new Error(`Unexpected character "${c}" at ${i}`);
    }
  }
  return out;
}

function parseOperation(src: string): Operation {
  const tokens = tokenize(src);
  let pos = 0;
  const peek = () => tokens[pos];
  const next = () => {
    const t = tokens[pos++];
    if (!t) throw new Error('Unexpected end of document');
    return t;
  };
  const expect = (v: string) => {
    const t = next();
    if (t.t !== 'punct' || t.v !== v) throw new Error(`Expected "${v}", found "${String(t.v)}"`);
  };
  const isPunct = (v: string) => {
    const t = peek();
    return t !== undefined && t.t === 'punct' && t.v === v;
  };

  let operation: 'query' | 'mutation' = 'query';
  let name: string | null = null;
  const first = peek();
  if (first?.t === 'name') {
    if (first.v !== 'query' && first.v !== 'mutation') throw new Error(`Unsupported operation "${first.v}"`);
    operation = first.v;
    next();
    if (peek()?.t === 'name') name = String(next().v);
    if (isPunct('(')) {
      // Variable definitions: the fake trusts the variables it is sent.
      let depth = 0;
      do {
        const t = next();
        if (t.t === 'punct' && t.v === '(') depth++;
        if (t.t === 'punct' && t.v === ')') depth--;
      } while (depth > 0);
    }
  }

  const parseValue = (): ValueNode => {
    const t = next();
    if (t.t === 'var') return { kind: 'var', name: t.v };
    if (t.t === 'string' || t.t === 'number') return { kind: 'const', value: t.v };
    if (t.t === 'name') {
      if (t.v === 'true' || t.v === 'false') return { kind: 'const', value: t.v === 'true' };
      if (t.v === 'null') return { kind: 'const', value: null };
      return { kind: 'const', value: t.v }; // enum value
    }
    if (t.v === '[') {
      const items: ValueNode[] = [];
      while (!isPunct(']')) items.push(parseValue());
      expect(']');
      return { kind: 'list', items };
    }
    if (t.v === '{') {
      const fields: ArgNode[] = [];
      while (!isPunct('}')) {
        const key = next();
        if (key.t !== 'name') throw new Error('Expected an object field name');
        expect(':');
        fields.push({ name: key.v, value: parseValue() });
      }
      expect('}');
      return { kind: 'object', fields };
    }
    throw new Error(`Unexpected "${String(t.v)}" in a value`);
  };

  const parseSelections = (): Selection[] => {
    expect('{');
    const out: Selection[] = [];
    while (!isPunct('}')) {
      const t = next();
      if (t.t !== 'name') throw new Error(`Expected a field name, found "${String(t.v)}"`);
      let alias: string | null = null;
      let fieldName = t.v;
      if (isPunct(':')) {
        next();
        const real = next();
        if (real.t !== 'name') throw new Error('Expected a field name after an alias');
        alias = fieldName;
        fieldName = real.v;
      }
      const args: ArgNode[] = [];
      if (isPunct('(')) {
        next();
        while (!isPunct(')')) {
          const argName = next();
          if (argName.t !== 'name') throw new Error('Expected an argument name');
          expect(':');
          args.push({ name: argName.v, value: parseValue() });
        }
        expect(')');
      }
      const selections = isPunct('{') ? parseSelections() : null;
      out.push({ alias, name: fieldName, args, selections });
    }
    expect('}');
    return out;
  };

  const selections = parseSelections();
  if (pos !== tokens.length) throw new Error('Only one operation per document is supported');
  return { operation, name, selections };
}

function evalArgs(args: ArgNode[], variables: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const a of args) out[a.name] = evalValue(a.value, variables);
  return out;
}

function evalValue(node: ValueNode, variables: Record<string, unknown>): unknown {
  switch (node.kind) {
    case 'var':
      return variables[node.name] ?? null;
    case 'const':
      return node.value;
    case 'list':
      return node.items.map((i) => evalValue(i, variables));
    case 'object':
      return evalArgs(node.fields, variables);
  }
}

// ---------------------------------------------------------------------------------------------
// Small helpers

class ValidationFailure extends Error {}

class GraphQLFailure extends Error {
  constructor(
    message: string,
    readonly extensions: Record<string, unknown>,
  ) {
    super(message);
  }
}

function userError(message: string): GraphQLFailure {
  return new GraphQLFailure(message, { type: 'invalid input', code: 'INPUT_ERROR', userPresentableMessage: message });
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers }).end(JSON.stringify(body));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isView(value: unknown): value is { __typename: string; [field: string]: unknown } {
  return isObject(value) && typeof value.__typename === 'string';
}

function slugify(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 40);
}
