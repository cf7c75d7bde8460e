/**
 * A fake GitHub REST API for tests: real HTTP on 127.0.0.1 (port 0), the real JSON shapes for
 * the fields Foreman uses, driven through the real @octokit/rest with `baseUrl: fake.url`.
 *
 * One repository with in-memory issues, labels, comments, pull requests (which, as on GitHub,
 * share the issue number space and appear in the issues API with a `pull_request` key), check
 * runs and commit statuses. Tests seed and inspect that state directly. GitHub's habits that
 * matter to clients are kept: `Link` pagination headers (`rel="next"`, `per_page` ≤ 100, default
 * 30), `x-ratelimit-*` headers, errors as `{ message, documentation_url }`, 422 validation errors
 * with `errors: [{ resource, code, field }]`, `token <t>` / `Bearer <t>` auth.
 *
 * Fault injection (`fault`) answers the next N matching requests with a status (plus headers and
 * body), a dropped connection, an unparsable body, or a transformed real response.
 *
 * Permissions: `collaborators` maps a login to its repository permission (`admin`, `maintain`,
 * `write`, `triage`, `read`; default: `octocat` admin, the token's user write); it drives each
 * issue's and comment's `author_association` (owner login → OWNER, write or more → COLLABORATOR,
 * else NONE) and `GET /collaborators/{user}/permission`. Logins ending in `[bot]` are `type: Bot`.
 * Labels applied through the API or `labelIssue` are recorded as the issue's `labeled` events.
 *
 * It does not model branches, webhooks, or anything Foreman does not call.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** An issue (or the issue side of a pull request). */
export interface FakeIssue {
  number: number;
  title: string;
  body: string | null;
  state: 'open' | 'closed';
  state_reason: 'completed' | 'not_planned' | 'duplicate' | 'reopened' | null;
  /** Label names, in the order GitHub would list them. */
  labels: string[];
  assignee: string | null;
  user: string;
  created_at: string;
  updated_at: string;
  closed_at: string | null;
  /** Set when this number is a pull request. */
  pull: FakePull | null;
  /** `labeled` events, oldest first (`GET /issues/{n}/events`). */
  events?: { label: string; actor: string; created_at: string }[];
}

/** A pull request. */
export interface FakePull {
  number: number;
  title: string;
  body: string | null;
  state: 'open' | 'closed';
  draft: boolean;
  merged: boolean;
  /** Head branch name (in this repository). */
  head: string;
  head_sha: string;
  base: string;
  created_at: string;
  updated_at: string;
}

/** A comment on an issue or pull request. */
export interface FakeComment {
  id: number;
  issue_number: number;
  body: string;
  user: string;
  created_at: string;
  updated_at: string;
}

/** A repository label. */
export interface FakeLabel {
  id: number;
  name: string;
  color: string;
  description: string | null;
}

/** A check run on a commit (`ref` is the sha or branch name it answers to). */
export interface FakeCheckRun {
  id: number;
  ref: string;
  name: string;
  status: 'queued' | 'in_progress' | 'completed' | 'waiting' | 'requested' | 'pending';
  conclusion: string | null;
  html_url: string | null;
  details_url: string | null;
}

/** A commit status (`ref` is the sha or branch name it answers to). Later ones of a context win. */
export interface FakeStatus {
  id: number;
  ref: string;
  context: string;
  state: 'error' | 'failure' | 'pending' | 'success';
  target_url: string | null;
  created_at: string;
}

/** A fault for the next `times` requests that match `method` (any if unset) and `path`. */
export interface Fault {
  method?: string;
  /** Exact URL path (e.g. `/repos/acme/app/issues`) or a pattern tested against it. */
  path: string | RegExp;
  /** How many matching requests it applies to. (Default: 1) */
  times?: number;
  /** Answer with this status and `{ message, documentation_url }` (or `body`). */
  status?: number;
  message?: string;
  headers?: Record<string, string>;
  /** JSON body to send instead of the default error body. */
  body?: unknown;
  /** Send this text as an `application/json` body (e.g. unparsable JSON). */
  raw?: string;
  /** Let the request through, then pass the JSON response body through this before sending. */
  transform?: (body: unknown) => unknown;
  /** Destroy the connection without answering (a transport failure). */
  drop?: boolean;
  /** Wait this long in ms before answering (to trip client timeouts). */
  delayMs?: number;
}

/** One request the fake received. */
export interface FakeRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
  authorization: string | undefined;
}

/** Options of `startFakeGitHub`. */
export interface FakeGitHubOptions {
  owner?: string;
  repo?: string;
  /** Token the fake accepts; requests without it get 401. (Default: `test-token`) */
  token?: string;
  /** Login of the token's user (author of comments and PRs the client creates). (Default: `foreman-bot`) */
  login?: string;
}

/** The running fake. */
export interface FakeGitHub {
  /** REST root to pass as `baseUrl`, e.g. `http://127.0.0.1:40123`. */
  readonly url: string;
  readonly owner: string;
  readonly repo: string;
  readonly token: string;
  readonly issues: Map<number, FakeIssue>;
  readonly comments: FakeComment[];
  /** Keyed by lowercased name. */
  readonly labels: Map<string, FakeLabel>;
  readonly checkRuns: FakeCheckRun[];
  readonly statuses: FakeStatus[];
  /** Every request received, oldest first. */
  readonly requests: FakeRequest[];
  /** Adds an issue; number, timestamps and author default. */
  addIssue(issue: Partial<FakeIssue> & { title: string }): FakeIssue;
  /** Adds a pull request (and its issue side); returns it. */
  addPull(pull: Partial<FakePull> & { head: string; title: string }): FakePull;
  addComment(issueNumber: number, comment: Partial<FakeComment> & { body: string }): FakeComment;
  /** Adds an inline review comment on a pull request (GET /pulls/{n}/comments lists them). */
  addReviewComment(pullNumber: number, comment: { path: string; line?: number; body: string; user?: string }): void;
  addLabel(name: string, color?: string): FakeLabel;
  /** Applies `label` to issue `number` as `actor` (a `labeled` event), as a person in the web UI would. */
  labelIssue(number: number, label: string, actor: string): void;
  /** Login → repository permission (`admin`, `maintain`, `write`, `triage`, `read`); absent = none. */
  readonly collaborators: Map<string, string>;
  addCheckRun(run: Partial<FakeCheckRun> & { ref: string; name: string }): FakeCheckRun;
  addStatus(status: Partial<FakeStatus> & { ref: string; context: string; state: FakeStatus['state'] }): FakeStatus;
  /** Open pull requests, all pull requests with `all`. */
  pulls(all?: boolean): FakePull[];
  commentsOn(issueNumber: number): FakeComment[];
  /** Queues a fault (see `Fault`). */
  fault(fault: Fault): void;
  /**
   * Queues GitHub's rate-limit answers: `secondary` (429, "secondary rate limit" message,
   * `retry-after`) or `primary` (403, `x-ratelimit-remaining: 0`, `x-ratelimit-reset`).
   */
  rateLimit(opts: {
    path: string | RegExp;
    kind: 'primary' | 'secondary';
    times?: number;
    retryAfterS?: number;
    method?: string;
  }): void;
  /** Requests to this path (and method, if given) so far. */
  count(path: string | RegExp, method?: string): number;
  close(): Promise<void>;
}

const DOCS = 'https://docs.github.com/rest';
const HTML = 'https://github.com';

/** Starts the fake on 127.0.0.1 with a free port. Close it in `afterEach`/`afterAll`. */
export async function startFakeGitHub(opts: FakeGitHubOptions = {}): Promise<FakeGitHub> {
  const owner = opts.owner ?? 'acme';
  const repo = opts.repo ?? 'app';
  const token = opts.token ?? 'test-token';
  const login = opts.login ?? 'foreman-bot';
  const issues = new Map<number, FakeIssue>();
  const comments: FakeComment[] = [];
  const reviewComments: {
    id: number;
    pull: number;
    path: string;
    line: number | null;
    body: string;
    user: string;
    created_at: string;
  }[] = [];
  const labels = new Map<string, FakeLabel>();
  const checkRuns: FakeCheckRun[] = [];
  const statuses: FakeStatus[] = [];
  const requests: FakeRequest[] = [];
  const faults: (Fault & { left: number })[] = [];
  let nextNumber = 1;
  let nextId = 1;
  let remaining = 5000;
  let url = '';
  const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  const matches = (p: string | RegExp, path: string) => (typeof p === 'string' ? p === path : p.test(path));

  const collaborators = new Map<string, string>([
    ['octocat', 'admin'],
    [login, 'write'],
  ]);
  const WRITE = new Set(['admin', 'maintain', 'write']);
  const association = (user: string) =>
    user.toLowerCase() === owner.toLowerCase()
      ? 'OWNER'
      : WRITE.has(collaborators.get(user) ?? '')
        ? 'COLLABORATOR'
        : 'NONE';
  const labeled = (issue: FakeIssue, label: string, actor: string) => {
    (issue.events ??= []).push({ label, actor, created_at: now() });
  };

  const addLabel = (name: string, color = 'ededed'): FakeLabel => {
    const existing = labels.get(name.toLowerCase());
    if (existing) return existing;
    const label = { id: nextId++, name, color, description: null };
    labels.set(name.toLowerCase(), label);
    return label;
  };

  const addIssue = (i: Partial<FakeIssue> & { title: string }): FakeIssue => {
    const number = i.number ?? nextNumber;
    nextNumber = Math.max(nextNumber, number + 1);
    const t = i.created_at ?? now();
    const issue: FakeIssue = {
      body: null,
      state: 'open',
      state_reason: null,
      labels: [],
      assignee: null,
      user: 'octocat',
      created_at: t,
      updated_at: i.updated_at ?? t,
      closed_at: null,
      pull: null,
      ...i,
      number,
    };
    if (issue.state === 'closed' && issue.closed_at === null) issue.closed_at = issue.updated_at;
    for (const l of issue.labels) addLabel(l);
    if (!i.events) issue.events = issue.labels.map((l) => ({ label: l, actor: issue.user, created_at: t }));
    issues.set(number, issue);
    return issue;
  };

  const addPull = (p: Partial<FakePull> & { head: string; title: string }): FakePull => {
    const number = p.number ?? nextNumber;
    const t = p.created_at ?? now();
    const pull: FakePull = {
      body: null,
      state: 'open',
      draft: false,
      merged: false,
      head_sha: sha(p.head),
      base: 'main',
      created_at: t,
      updated_at: t,
      ...p,
      number,
    };
    addIssue({
      number,
      title: pull.title,
      body: pull.body,
      state: pull.state,
      user: login,
      created_at: t,
      updated_at: t,
      pull,
    });
    return pull;
  };

  const addComment = (issueNumber: number, c: Partial<FakeComment> & { body: string }): FakeComment => {
    const t = c.created_at ?? now();
    const comment: FakeComment = {
      id: nextId++,
      issue_number: issueNumber,
      user: 'octocat',
      created_at: t,
      updated_at: c.updated_at ?? t,
      ...c,
    };
    comments.push(comment);
    return comment;
  };

  // ------------------------------------------------------------------------------------------
  // JSON shapes (the fields of GitHub's REST payloads that clients read, plus a few for realism)

  const apiRepo = () => `${url}/repos/${owner}/${repo}`;
  const userJson = (name: string) => ({
    login: name,
    id: hashId(name),
    node_id: `U_${name}`,
    type: name.endsWith('[bot]') ? 'Bot' : 'User',
    site_admin: false,
    html_url: `${HTML}/${name}`,
  });
  const labelJson = (name: string) => {
    const l = labels.get(name.toLowerCase()) ?? { id: 0, name, color: 'ededed', description: null };
    return {
      id: l.id,
      node_id: `LA_${l.id}`,
      url: `${apiRepo()}/labels/${encodeURIComponent(l.name)}`,
      name: l.name,
      color: l.color,
      default: false,
      description: l.description,
    };
  };
  const repoJson = () => ({
    id: 1,
    node_id: 'R_1',
    name: repo,
    full_name: `${owner}/${repo}`,
    owner: userJson(owner),
    private: false,
    html_url: `${HTML}/${owner}/${repo}`,
    url: apiRepo(),
    default_branch: 'main',
  });
  const issueJson = (i: FakeIssue) => ({
    url: `${apiRepo()}/issues/${i.number}`,
    repository_url: apiRepo(),
    labels_url: `${apiRepo()}/issues/${i.number}/labels{/name}`,
    comments_url: `${apiRepo()}/issues/${i.number}/comments`,
    html_url: `${HTML}/${owner}/${repo}/${i.pull ? 'pull' : 'issues'}/${i.number}`,
    id: 100_000 + i.number,
    node_id: `I_${i.number}`,
    number: i.number,
    title: i.title,
    user: userJson(i.user),
    labels: i.labels.map(labelJson),
    state: i.state,
    locked: false,
    assignee: i.assignee ? userJson(i.assignee) : null,
    assignees: i.assignee ? [userJson(i.assignee)] : [],
    milestone: null,
    comments: comments.filter((c) => c.issue_number === i.number).length,
    created_at: i.created_at,
    updated_at: i.updated_at,
    closed_at: i.closed_at,
    author_association: association(i.user),
    body: i.body,
    state_reason: i.state_reason,
    ...(i.pull
      ? {
          draft: i.pull.draft,
          pull_request: {
            url: `${apiRepo()}/pulls/${i.number}`,
            html_url: `${HTML}/${owner}/${repo}/pull/${i.number}`,
            diff_url: `${HTML}/${owner}/${repo}/pull/${i.number}.diff`,
            patch_url: `${HTML}/${owner}/${repo}/pull/${i.number}.patch`,
            merged_at: i.pull.merged ? i.pull.updated_at : null,
          },
        }
      : {}),
  });
  const commentJson = (c: FakeComment) => ({
    url: `${apiRepo()}/issues/comments/${c.id}`,
    html_url: `${HTML}/${owner}/${repo}/issues/${c.issue_number}#issuecomment-${c.id}`,
    issue_url: `${apiRepo()}/issues/${c.issue_number}`,
    id: c.id,
    node_id: `IC_${c.id}`,
    user: userJson(c.user),
    created_at: c.created_at,
    updated_at: c.updated_at,
    author_association: association(c.user),
    body: c.body,
  });
  const pullJson = (p: FakePull) => ({
    url: `${apiRepo()}/pulls/${p.number}`,
    id: 200_000 + p.number,
    node_id: `PR_${p.number}`,
    html_url: `${HTML}/${owner}/${repo}/pull/${p.number}`,
    number: p.number,
    state: p.state,
    locked: false,
    title: p.title,
    user: userJson(login),
    body: p.body,
    labels: [],
    created_at: p.created_at,
    updated_at: p.updated_at,
    closed_at: p.state === 'closed' ? p.updated_at : null,
    merged_at: p.merged ? p.updated_at : null,
    draft: p.draft,
    head: { label: `${owner}:${p.head}`, ref: p.head, sha: p.head_sha, user: userJson(owner), repo: repoJson() },
    base: { label: `${owner}:${p.base}`, ref: p.base, sha: sha(p.base), user: userJson(owner), repo: repoJson() },
    merged: p.merged,
    mergeable: p.state === 'open' ? true : null,
  });
  const checkRunJson = (r: FakeCheckRun) => ({
    id: r.id,
    head_sha: sha(r.ref),
    node_id: `CR_${r.id}`,
    external_id: '',
    url: `${apiRepo()}/check-runs/${r.id}`,
    html_url: r.html_url,
    details_url: r.details_url,
    status: r.status,
    conclusion: r.conclusion,
    started_at: now(),
    completed_at: r.status === 'completed' ? now() : null,
    name: r.name,
    check_suite: { id: 1 },
    app: { id: 1, slug: 'github-actions', name: 'GitHub Actions' },
    pull_requests: [],
  });

  // ------------------------------------------------------------------------------------------
  // HTTP

  /** An answer: `body` is sent as JSON, or `raw` as is (still labelled JSON). */
  type Reply = { status: number; body?: unknown; raw?: string; headers?: Record<string, string> };
  const error = (status: number, message: string, extra: Record<string, unknown> = {}): Reply => ({
    status,
    body: { message, documentation_url: DOCS, status: String(status), ...extra },
  });
  const notFound = () => error(404, 'Not Found');
  const validation = (resource: string, code: string, field: string, message?: string): Reply =>
    error(422, 'Validation Failed', { errors: [{ resource, code, field, ...(message ? { message } : {}) }] });

  /** One page of `items` (GitHub: `per_page` default 30, max 100) with a `Link` header. */
  const paged = (
    path: string,
    query: Record<string, string>,
    items: unknown[],
    wrap?: (page: unknown[]) => unknown,
  ): Reply => {
    const perPage = Math.min(100, Math.max(1, Number(query.per_page ?? 30) || 30));
    const page = Math.max(1, Number(query.page ?? 1) || 1);
    const last = Math.max(1, Math.ceil(items.length / perPage));
    const slice = items.slice((page - 1) * perPage, page * perPage);
    const link = (p: number) => {
      const q = new URLSearchParams({ ...query, per_page: String(perPage), page: String(p) });
      return `<${url}${path}?${q.toString()}>`;
    };
    const rels: string[] = [];
    if (page > 1) rels.push(`${link(page - 1)}; rel="prev"`);
    if (page < last) rels.push(`${link(page + 1)}; rel="next"`, `${link(last)}; rel="last"`);
    if (page > 1) rels.push(`${link(1)}; rel="first"`);
    return { status: 200, body: wrap ? wrap(slice) : slice, headers: rels.length > 0 ? { link: rels.join(', ') } : {} };
  };

  const touch = (i: FakeIssue) => {
    i.updated_at = now();
  };

  /** `path` is decoded (label names, branch refs with `/`); `rawPath` is as sent, for `Link` URLs. */
  const route = (
    method: string,
    path: string,
    rawPath: string,
    query: Record<string, string>,
    body: unknown,
  ): Reply => {
    // The token's user (REST "Get the authenticated user": the private-user shape).
    if (path === '/user' && method === 'GET') {
      return {
        status: 200,
        body: {
          ...userJson(login),
          avatar_url: `https://avatars.githubusercontent.com/u/${hashId(login)}?v=4`,
          gravatar_id: '',
          url: `${url}/users/${login}`,
          repos_url: `${url}/users/${login}/repos`,
          user_view_type: 'private',
          name: null,
          company: null,
          blog: '',
          location: null,
          email: null,
          hireable: null,
          bio: null,
          twitter_username: null,
          notification_email: null,
          public_repos: 1,
          public_gists: 0,
          followers: 0,
          following: 0,
          created_at: '2020-01-01T00:00:00Z',
          updated_at: '2020-01-01T00:00:00Z',
          private_gists: 0,
          total_private_repos: 1,
          owned_private_repos: 1,
          disk_usage: 0,
          collaborators: 0,
          two_factor_authentication: true,
          plan: { name: 'free', space: 976562499, collaborators: 0, private_repos: 10000 },
        },
      };
    }
    const m = /^\/repos\/([^/]+)\/([^/]+)(\/.*)?$/.exec(path);
    if (!m) return notFound();
    if ((m[1] as string).toLowerCase() !== owner.toLowerCase() || (m[2] as string).toLowerCase() !== repo.toLowerCase())
      return notFound();
    const rest = m[3] ?? '';
    const b = (isObject(body) ? body : {}) as Record<string, unknown>;
    let r: RegExpExecArray | null;

    if (rest === '' && method === 'GET') return { status: 200, body: repoJson() };

    // Issues
    if (rest === '/issues' && method === 'GET') {
      const state = query.state ?? 'open';
      const sort = query.sort ?? 'created';
      const desc = (query.direction ?? 'desc') === 'desc';
      const since = query.since ? Date.parse(query.since) : null;
      const wantLabels = query.labels ? query.labels.split(',').map((l) => l.trim().toLowerCase()) : [];
      const list = [...issues.values()]
        .filter((i) => state === 'all' || i.state === state)
        .filter((i) => since === null || Date.parse(i.updated_at) >= since)
        .filter((i) => wantLabels.every((w) => i.labels.some((l) => l.toLowerCase() === w)))
        .sort((x, y) => {
          const key = (i: FakeIssue) => (sort === 'updated' ? Date.parse(i.updated_at) : Date.parse(i.created_at));
          const d = key(x) - key(y) || x.number - y.number;
          return desc ? -d : d;
        });
      return paged(rawPath, query, list.map(issueJson));
    }
    if (rest === '/issues' && method === 'POST') {
      // Like GitHub: labels are names (or { name } objects) and are created on first use.
      if (typeof b.title !== 'string' || b.title.trim() === '') return validation('Issue', 'missing_field', 'title');
      const names = Array.isArray(b.labels)
        ? b.labels.map((l) => (isObject(l) ? String(l.name) : String(l))).filter((l) => l.trim() !== '')
        : [];
      const issue = addIssue({
        title: b.title,
        body: typeof b.body === 'string' ? b.body : null,
        labels: names.map((n) => addLabel(n).name),
        user: login,
      });
      return { status: 201, body: issueJson(issue) };
    }
    if ((r = /^\/issues\/(\d+)$/.exec(rest))) {
      const issue = issues.get(Number(r[1]));
      if (!issue) return notFound();
      if (method === 'GET') return { status: 200, body: issueJson(issue) };
      if (method === 'PATCH') {
        if (typeof b.title === 'string') issue.title = b.title;
        if (typeof b.body === 'string' || b.body === null) issue.body = b.body as string | null;
        if (Array.isArray(b.labels)) {
          issue.labels = b.labels.map(String);
          issue.labels.forEach((l) => addLabel(l));
        }
        if (b.state === 'closed' && issue.state !== 'closed') {
          issue.state = 'closed';
          issue.closed_at = now();
          issue.state_reason = (b.state_reason as FakeIssue['state_reason']) ?? 'completed';
        } else if (b.state === 'closed' && b.state_reason !== undefined) {
          issue.state_reason = b.state_reason as FakeIssue['state_reason'];
        } else if (b.state === 'open' && issue.state !== 'open') {
          issue.state = 'open';
          issue.closed_at = null;
          issue.state_reason = 'reopened';
        }
        touch(issue);
        return { status: 200, body: issueJson(issue) };
      }
    }
    if ((r = /^\/pulls\/(\d+)\/comments$/.exec(rest)) && method === 'GET') {
      const number = Number(r[1]);
      const list = reviewComments
        .filter((c) => c.pull === number)
        .map((c) => ({
          id: c.id,
          path: c.path,
          line: c.line,
          body: c.body,
          user: { login: c.user, id: 1, type: 'User' },
          created_at: c.created_at,
        }));
      return paged(rawPath, query, list);
    }
    if (rest === '/issues/comments' && method === 'GET') {
      // Every issue's comments (GitHub: `since` filters on updated_at; sort=created&direction=asc).
      const since = query.since ? Date.parse(query.since) : null;
      const list = comments.filter((c) => since === null || Date.parse(c.updated_at) >= since);
      return paged(rawPath, query, list.sort((x, y) => x.id - y.id).map(commentJson));
    }
    if ((r = /^\/issues\/(\d+)\/comments$/.exec(rest))) {
      const number = Number(r[1]);
      const issue = issues.get(number);
      if (!issue) return notFound();
      if (method === 'GET') {
        const since = query.since ? Date.parse(query.since) : null;
        const list = comments.filter(
          (c) => c.issue_number === number && (since === null || Date.parse(c.updated_at) >= since),
        );
        return paged(rawPath, query, list.sort((x, y) => x.id - y.id).map(commentJson));
      }
      if (method === 'POST') {
        if (typeof b.body !== 'string' || b.body === '') return validation('IssueComment', 'missing_field', 'body');
        if (b.body.length > 65_536)
          return validation('IssueComment', 'custom', 'body', 'Body is too long (maximum is 65536 characters)');
        const c = addComment(number, { body: b.body, user: login });
        touch(issue);
        return { status: 201, body: commentJson(c) };
      }
    }
    if ((r = /^\/issues\/comments\/(\d+)$/.exec(rest))) {
      const c = comments.find((x) => x.id === Number(r?.[1]));
      if (!c) return notFound();
      if (method === 'GET') return { status: 200, body: commentJson(c) };
      if (method === 'PATCH') {
        if (typeof b.body !== 'string' || b.body === '') return validation('IssueComment', 'missing_field', 'body');
        c.body = b.body;
        c.updated_at = now();
        return { status: 200, body: commentJson(c) };
      }
    }
    if ((r = /^\/issues\/(\d+)\/labels$/.exec(rest)) && method === 'POST') {
      const issue = issues.get(Number(r[1]));
      if (!issue) return notFound();
      const names = Array.isArray(body) ? body : Array.isArray(b.labels) ? b.labels : null;
      if (names === null) return validation('Label', 'invalid', 'labels');
      for (const raw of names) {
        // GitHub creates labels that do not exist yet.
        const label = addLabel(String(raw));
        if (!issue.labels.some((l) => l.toLowerCase() === label.name.toLowerCase())) {
          issue.labels.push(label.name);
          labeled(issue, label.name, login);
        }
      }
      touch(issue);
      return { status: 200, body: issue.labels.map(labelJson) };
    }
    if ((r = /^\/issues\/(\d+)\/events$/.exec(rest)) && method === 'GET') {
      const issue = issues.get(Number(r[1]));
      if (!issue) return notFound();
      const list = (issue.events ?? []).map((e, n) => ({
        id: n + 1,
        event: 'labeled',
        actor: userJson(e.actor),
        label: { name: e.label, color: labels.get(e.label.toLowerCase())?.color ?? 'ededed' },
        created_at: e.created_at,
      }));
      return paged(rawPath, query, list);
    }
    if ((r = /^\/collaborators\/([^/]+)\/permission$/.exec(rest)) && method === 'GET') {
      const user = r[1] as string;
      const permission = user.toLowerCase() === owner.toLowerCase() ? 'admin' : collaborators.get(user);
      if (permission === undefined) return error(404, `${user} is not a collaborator`);
      const legacy = permission === 'maintain' ? 'write' : permission === 'triage' ? 'read' : permission;
      return { status: 200, body: { permission: legacy, role_name: permission, user: userJson(user) } };
    }
    if ((r = /^\/issues\/(\d+)\/labels\/(.+)$/.exec(rest)) && method === 'DELETE') {
      const issue = issues.get(Number(r[1]));
      if (!issue) return notFound();
      const name = (r[2] as string).toLowerCase();
      const at = issue.labels.findIndex((l) => l.toLowerCase() === name);
      if (at === -1) return error(404, 'Label does not exist');
      issue.labels.splice(at, 1);
      touch(issue);
      return { status: 200, body: issue.labels.map(labelJson) };
    }
    if ((r = /^\/labels\/(.+)$/.exec(rest)) && method === 'GET') {
      const label = labels.get((r[1] as string).toLowerCase());
      return label ? { status: 200, body: labelJson(label.name) } : notFound();
    }
    if (rest === '/labels' && method === 'POST') {
      if (typeof b.name !== 'string' || b.name.trim() === '') return validation('Label', 'missing_field', 'name');
      if (labels.has(b.name.toLowerCase())) return validation('Label', 'already_exists', 'name');
      const label = addLabel(b.name, typeof b.color === 'string' ? b.color : 'ededed');
      label.description = typeof b.description === 'string' ? b.description : null;
      return { status: 201, body: labelJson(label.name) };
    }

    // Pull requests
    if (rest === '/pulls' && method === 'GET') {
      const state = query.state ?? 'open';
      const list = allPulls()
        .filter((p) => state === 'all' || p.state === state)
        .filter(
          (p) =>
            !query.head ||
            query.head === `${owner}:${p.head}` ||
            query.head.toLowerCase() === `${owner}:${p.head}`.toLowerCase(),
        )
        .filter((p) => !query.base || query.base === p.base)
        .sort((x, y) => y.number - x.number);
      return paged(rawPath, query, list.map(pullJson));
    }
    if (rest === '/pulls' && method === 'POST') {
      for (const field of ['title', 'head', 'base'] as const) {
        if (typeof b[field] !== 'string' || b[field] === '') return validation('PullRequest', 'missing_field', field);
      }
      const head = String(b.head).replace(new RegExp(`^${owner}:`, 'i'), '');
      if (head === b.base)
        return validation('PullRequest', 'custom', 'head', `No commits between ${String(b.base)} and ${head}`);
      if (allPulls().some((p) => p.state === 'open' && p.head === head && p.base === b.base)) {
        return validation('PullRequest', 'custom', 'head', `A pull request already exists for ${owner}:${head}.`);
      }
      const pull = addPull({
        head,
        base: String(b.base),
        title: String(b.title),
        body: typeof b.body === 'string' ? b.body : null,
        draft: b.draft === true,
      });
      return { status: 201, body: pullJson(pull) };
    }
    if ((r = /^\/pulls\/(\d+)$/.exec(rest))) {
      const pull = issues.get(Number(r[1]))?.pull;
      if (!pull) return notFound();
      if (method === 'GET') return { status: 200, body: pullJson(pull) };
      if (method === 'PATCH') {
        if (typeof b.title === 'string') pull.title = b.title;
        if (typeof b.body === 'string') pull.body = b.body;
        if (typeof b.base === 'string') pull.base = b.base;
        if (b.state === 'open' || b.state === 'closed') pull.state = b.state;
        pull.updated_at = now();
        const issue = issues.get(pull.number);
        if (issue)
          Object.assign(issue, { title: pull.title, body: pull.body, state: pull.state, updated_at: pull.updated_at });
        return { status: 200, body: pullJson(pull) };
      }
    }

    // CI
    if ((r = /^\/commits\/(.+)\/check-runs$/.exec(rest)) && method === 'GET') {
      const ref = r[1] as string;
      const list = checkRuns.filter((c) => c.ref === ref).map(checkRunJson);
      return paged(rawPath, query, list, (page) => ({ total_count: list.length, check_runs: page }));
    }
    if ((r = /^\/commits\/(.+)\/status$/.exec(rest)) && method === 'GET') {
      const ref = r[1] as string;
      const latest = new Map<string, FakeStatus>();
      for (const s of statuses.filter((x) => x.ref === ref)) latest.set(s.context, s);
      const list = [...latest.values()];
      const state = list.some((s) => s.state === 'failure' || s.state === 'error')
        ? 'failure'
        : list.length === 0 || list.some((s) => s.state === 'pending')
          ? 'pending'
          : 'success';
      return {
        status: 200,
        body: {
          state,
          statuses: list.map((s) => ({
            url: `${apiRepo()}/statuses/${sha(s.ref)}`,
            id: s.id,
            node_id: `SC_${s.id}`,
            state: s.state,
            description: null,
            target_url: s.target_url,
            context: s.context,
            created_at: s.created_at,
            updated_at: s.created_at,
          })),
          sha: sha(ref),
          total_count: list.length,
          repository: repoJson(),
          commit_url: `${apiRepo()}/commits/${sha(ref)}`,
          url: `${apiRepo()}/commits/${sha(ref)}/status`,
        },
      };
    }
    return notFound();
  };

  const allPulls = () => [...issues.values()].map((i) => i.pull).filter((p): p is FakePull => p !== null);

  const send = (res: ServerResponse, reply: Reply) => {
    remaining = Math.max(0, remaining - 1);
    const headers: Record<string, string> = {
      'content-type': 'application/json; charset=utf-8',
      'x-github-media-type': 'github.v3; format=json',
      'x-github-request-id': `FAKE:${nextId++}`,
      'x-ratelimit-limit': '5000',
      'x-ratelimit-remaining': String(remaining),
      'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 3600),
      'x-ratelimit-used': String(5000 - remaining),
      'x-ratelimit-resource': 'core',
      ...reply.headers,
    };
    const text = reply.raw ?? (reply.body === undefined ? '' : JSON.stringify(reply.body));
    res.writeHead(reply.status, headers);
    res.end(text);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const parsed = new URL(req.url ?? '/', 'http://fake');
    const path = decodeURIComponent(parsed.pathname);
    const query = Object.fromEntries(parsed.searchParams);
    const method = (req.method ?? 'GET').toUpperCase();
    const text = Buffer.concat(chunks).toString('utf8');
    let body: unknown = undefined;
    let badJson = false;
    if (text !== '') {
      try {
        body = JSON.parse(text);
      } catch {
        badJson = true;
      }
    }
    requests.push({ method, path, query, body, authorization: req.headers.authorization });

    const fault = faults.find(
      (f) => f.left > 0 && (f.method === undefined || f.method.toUpperCase() === method) && matches(f.path, path),
    );
    if (fault) fault.left--;
    if (fault?.delayMs !== undefined) await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
    if (res.destroyed || req.socket.destroyed) return;
    if (fault?.drop) {
      req.socket.destroy();
      return;
    }
    if (fault?.raw !== undefined)
      return send(res, { status: fault.status ?? 200, raw: fault.raw, headers: fault.headers ?? {} });
    if (fault?.status !== undefined) {
      const reply =
        fault.body !== undefined
          ? { status: fault.status, body: fault.body }
          : error(fault.status, fault.message ?? defaultMessage(fault.status));
      return send(res, { ...reply, headers: fault.headers ?? {} });
    }

    const auth = req.headers.authorization ?? '';
    const m = /^(?:token|bearer)\s+(.+)$/i.exec(auth);
    if (!m || m[1] !== token) return send(res, error(401, 'Bad credentials'));
    if (badJson) return send(res, error(400, 'Problems parsing JSON'));
    const reply = route(method, path, parsed.pathname, query, body);
    if (fault?.transform && reply.body !== undefined) reply.body = fault.transform(reply.body);
    send(res, reply);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, error(500, `fake-github: ${err instanceof Error ? err.message : String(err)}`));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const fake: FakeGitHub = {
    url,
    owner,
    repo,
    token,
    issues,
    comments,
    labels,
    checkRuns,
    statuses,
    requests,
    addIssue,
    addPull,
    addComment,
    addReviewComment: (pull, c) => {
      reviewComments.push({
        id: reviewComments.length + 1,
        pull,
        path: c.path,
        line: c.line ?? null,
        body: c.body,
        user: c.user ?? 'reviewer',
        created_at: new Date().toISOString(),
      });
    },
    addLabel,
    collaborators,
    labelIssue(number, label, actor) {
      const issue = issues.get(number);
      if (!issue) throw new Error(`no issue #${number}`);
      const name = addLabel(label).name;
      if (!issue.labels.some((l) => l.toLowerCase() === name.toLowerCase())) issue.labels.push(name);
      labeled(issue, name, actor);
      touch(issue);
    },
    addCheckRun: (run) => {
      const r: FakeCheckRun = {
        id: nextId++,
        status: 'completed',
        conclusion: 'success',
        html_url: null,
        details_url: null,
        ...run,
      };
      checkRuns.push(r);
      return r;
    },
    addStatus: (status) => {
      const s: FakeStatus = { id: nextId++, target_url: null, created_at: now(), ...status };
      statuses.push(s);
      return s;
    },
    pulls: (all = false) => allPulls().filter((p) => all || p.state === 'open'),
    commentsOn: (n) => comments.filter((c) => c.issue_number === n).sort((x, y) => x.id - y.id),
    fault: (f) => faults.push({ ...f, left: f.times ?? 1 }),
    rateLimit: ({ path, kind, times = 1, retryAfterS = 1, method }) => {
      const f: Fault =
        kind === 'secondary'
          ? {
              path,
              times,
              status: 429,
              message:
                'You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID FAKE.',
              headers: { 'retry-after': String(retryAfterS) },
            }
          : {
              path,
              times,
              status: 403,
              message:
                'API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, please include the request ID FAKE.',
              headers: {
                'x-ratelimit-remaining': '0',
                'x-ratelimit-reset': String(Math.ceil(Date.now() / 1000) + retryAfterS),
              },
            };
      faults.push({ ...f, ...(method ? { method } : {}), left: times });
    },
    count: (path, method) =>
      requests.filter((r) => matches(path, r.path) && (method === undefined || r.method === method.toUpperCase()))
        .length,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
  return fake;
}

function defaultMessage(status: number): string {
  if (status === 401) return 'Bad credentials';
  if (status === 403) return 'Resource not accessible by personal access token';
  if (status === 404) return 'Not Found';
  if (status === 422) return 'Validation Failed';
  if (status === 502) return 'Server Error';
  if (status >= 500) return 'Internal Server Error';
  return 'Error';
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A stable fake 40-hex sha for a ref (so tests can ask for a branch or its sha alike). */
function sha(ref: string): string {
  if (/^[0-9a-f]{40}$/.test(ref)) return ref;
  let h = 0x811c9dc5;
  let out = '';
  for (let round = 0; out.length < 40; round++) {
    for (const ch of `${round}:${ref}`) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
    out += h.toString(16).padStart(8, '0');
  }
  return out.slice(0, 40);
}

function hashId(name: string): number {
  let h = 7;
  for (const ch of name) h = (h * 31 + ch.charCodeAt(0)) % 1_000_000;
  return h + 1;
}
