/**
 * The policy schema: one zod tree for the front matter of a policy file (Symphony's WORKFLOW.md
 * format, SPEC §5.3, plus Foreman's extension keys). Every key has a default and its bounds here,
 * and `Policy` is the *resolved* shape the rest of Foreman reads.
 *
 * Owns: shapes, defaults, bounds, coercion of numeric strings. Does not own: reading the file,
 * `$VAR`/`~`/relative-path resolution or warnings (load.ts), prompt rendering (prompt.ts).
 * The reference for operators is specs/policy.md; a change here updates it in the same commit.
 */
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { SEVERITIES } from '../review/findings.js';

/** Largest delay a Node timer accepts (2^31 - 1 ms, about 24.8 days); larger values fire at once. */
export const MAX_TIMER_MS = 2_147_483_647;

/** Default model of a role on the `builtin` backend (other backends: src/agents/backends/config.ts). */
export const DEFAULT_MODEL = 'claude-sonnet-5-5';

// YAML authors sometimes quote numbers (`port: "8080"`); Symphony's Ecto casting accepts them, so
// do we. Anything else passes through untouched so zod reports it with the key path.
function numericString(value: unknown): unknown {
  if (typeof value === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(value)) return Number(value);
  return value;
}

/** An integer > 0, numeric strings accepted. */
const positiveInt = () => z.preprocess(numericString, z.int().positive());
/** An integer >= 0, numeric strings accepted. */
const nonNegativeInt = () => z.preprocess(numericString, z.int().nonnegative());
/** A duration in ms that a Node timer can hold. */
const timerMs = () =>
  z.preprocess(
    numericString,
    z.int().positive().max(MAX_TIMER_MS, `must be at most ${MAX_TIMER_MS} ms (about 24.8 days)`),
  );
/** A list of non-empty strings. */
const stringList = () => z.array(z.string());

/**
 * Normalizes a `max_concurrent_agents_by_state` map: keys trimmed + lowercased, entries whose
 * value is not a positive integer (or whose key is blank) dropped (Symphony SPEC §5.3.5).
 */
export function normalizeStateLimits(raw: Record<string, unknown>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(raw)) {
    const state = key.trim().toLowerCase();
    const limit = numericString(value);
    if (state === '' || typeof limit !== 'number' || !Number.isInteger(limit) || limit <= 0) continue;
    out[state] = limit;
  }
  return out;
}

/** `tracker` (Symphony SPEC §5.3.1). Unknown keys are kept: Symphony's legacy `api_key`, `endpoint`, `project_slug`. */
export const trackerSchema = z.looseObject({
  /** Adapter: `local`, `linear` or `github`. (Default: `local`) */
  kind: z.string().trim().min(1).default('local'),
  /** Adapter-owned settings (endpoint, scope, credentials); unknown keys kept. (Default: `{}`) */
  provider: z.record(z.string(), z.unknown()).default(() => ({})),
  /** Labels an issue must all carry to be dispatched; case-insensitive. (Default: `[]`) */
  required_labels: stringList().default(() => []),
  /** Provider state names that make an issue eligible; case-insensitive. (Default: `[Todo, In Progress]`) */
  active_states: stringList().default(() => ['Todo', 'In Progress']),
  /** Provider state names that end work on an issue; case-insensitive. (Default: `[Done, Closed, Cancelled, Canceled, Duplicate]`) */
  terminal_states: stringList().default(() => ['Done', 'Closed', 'Cancelled', 'Canceled', 'Duplicate']),
});

/**
 * `trust`: who may start work, answer an escalation and approve (specs/trust.md). GitHub trusts
 * people with write access to the repository, Linear the members of the team (not guests, apps
 * or bots), local anyone who can write the issue folder; `users` adds people by name.
 */
export const trustSchema = z.object({
  /** Extra trusted people: GitHub logins, Linear user ids, names or emails; case-insensitive. (Default: `[]`) */
  users: stringList().default(() => []),
  /**
   * Who may approve (a protected-path change, a hand-over with open blocking findings, a budget
   * grant); same spelling as `users`. (Default: `[]` = anyone who may answer)
   */
  approvers: stringList().default(() => []),
  /**
   * The label a trusted person applies to let an untrusted author's issue start, when
   * `tracker.required_labels` is empty (otherwise a trusted person must apply one of those). (Default: `foreman`)
   */
  start_label: z.string().trim().min(1).default('foreman'),
  /** How long a permission look-up (GitHub collaborator permission, Linear team membership) is reused, ms. (Default: 600000) */
  cache_ms: nonNegativeInt().default(600_000),
});

/** `polling` (Symphony SPEC §5.3.2). */
export const pollingSchema = z.object({
  /** Tracker poll interval in ms. (Default: 30000) */
  interval_ms: timerMs().default(30_000),
});

/** `workspace` (Symphony SPEC §5.3.3, plus Foreman's `repo` and `base_branch`). */
export const workspaceSchema = z.object({
  /** Absolute directory holding one workspace per issue. (Default: `<os.tmpdir()>/foreman_workspaces`) */
  root: z
    .string()
    .min(1)
    .default(() => path.join(os.tmpdir(), 'foreman_workspaces')),
  /** Git URL or local path cloned into a new workspace; without it `hooks.after_create` must leave a checkout. (Default: none) */
  repo: z.string().min(1).optional(),
  /** Branch the issue branch starts from and the PR targets. (Default: none = the remote's default branch) */
  base_branch: z.string().min(1).optional(),
  /**
   * Clone new workspaces from a per-repository cache under FOREMAN_HOME (`repo-cache/`), then fetch
   * the remote, instead of cloning the remote each time (docs/architecture.md, "Scale"). (Default: true)
   */
  repo_cache: z.boolean().default(true),
});

/** `hooks` (Symphony SPEC §5.3.4): shell scripts run in the workspace directory. */
export const hooksSchema = z.object({
  /** Runs once when a workspace is created; failure aborts creation. (Default: none) */
  after_create: z.string().nullable().optional(),
  /** Runs before each agent attempt; failure aborts the attempt. (Default: none) */
  before_run: z.string().nullable().optional(),
  /** Runs after each agent attempt; failure is logged and ignored. (Default: none) */
  after_run: z.string().nullable().optional(),
  /** Runs before a workspace is removed; failure is logged and ignored. (Default: none) */
  before_remove: z.string().nullable().optional(),
  /** Time limit for each hook in ms. (Default: 60000) */
  timeout_ms: timerMs().default(60_000),
});

/** `agent` (Symphony SPEC §5.3.5). */
export const agentSchema = z.object({
  /** Issues worked at the same time across all workers. (Default: 10) */
  max_concurrent_agents: positiveInt().default(10),
  /** Model turns per implementer session (a role may override). (Default: 20) */
  max_turns: positiveInt().default(20),
  /** Cap on the retry backoff in ms. (Default: 300000) */
  max_retry_backoff_ms: positiveInt().default(300_000),
  /**
   * How long a step failing with a transient outage (model 429/529/5xx, a stalled or unreachable
   * endpoint, tracker 5xx or rate limit) keeps being retried, ms, before a human is asked. (Default: 900000)
   */
  outage_ms: positiveInt().default(900_000),
  /** Longest issue description a run carries, in UTF-8 bytes; longer ones are cut with a note. (Default: 65536) */
  max_issue_bytes: positiveInt().default(65_536),
  /** Per-state concurrency caps; keys trimmed + lowercased, invalid entries dropped. (Default: `{}`) */
  max_concurrent_agents_by_state: z
    .record(z.string(), z.unknown())
    .transform(normalizeStateLimits)
    .default(() => ({})),
});

/** The agent backends a role can run on (specs/backends.md). */
export const BACKEND_NAMES = ['builtin', 'claude-code', 'codex'] as const;

/** A stall timeout: Symphony's `<= 0` disables stall detection, normalized to 0 (SPEC §5.3.6). */
const stallMs = () =>
  z.preprocess(
    numericString,
    z
      .int()
      .max(MAX_TIMER_MS, `must be at most ${MAX_TIMER_MS} ms (about 24.8 days)`)
      .transform((ms) => Math.max(0, ms)),
  );

/**
 * `codex` options (Symphony SPEC §5.3.6), both the top-level Symphony block and
 * `roles.<role>.codex`. Defaults are applied by src/agents/backends/config.ts (`backendOf`), so a
 * role's block can inherit from the top-level one key by key. `approval_policy`, `thread_sandbox`
 * and `turn_sandbox_policy` are Codex's own values, passed through as written.
 */
export const codexSchema = z.object({
  /** Shell command (run with `bash -lc` in the workspace) that starts the app server. (Default: `codex app-server`) */
  command: z.string().trim().min(1).optional(),
  /** Codex `AskForApproval`: a string (`never`, `on-request`, …) or a map. (Default: `never`) */
  approval_policy: z.union([z.string().trim().min(1), z.record(z.string(), z.unknown())]).optional(),
  /** Codex `SandboxMode` for the thread. (Default: `workspace-write`) */
  thread_sandbox: z.string().trim().min(1).optional(),
  /** Codex `SandboxPolicy` for each turn. (Default: none = not sent; Codex derives it from `thread_sandbox`) */
  turn_sandbox_policy: z.record(z.string(), z.unknown()).optional(),
  /** Longest turn, ms. (Default: 3600000) */
  turn_timeout_ms: timerMs().optional(),
  /** Longest wait for a JSON-RPC response, ms. (Default: 5000) */
  read_timeout_ms: timerMs().optional(),
  /** No event for this long ends the turn, which is retried; `<= 0` = off. (Default: 300000) */
  stall_timeout_ms: stallMs().optional(),
  /** Reasoning effort sent on each turn (`low`, `medium`, `high`, `xhigh`). (Default: none = Codex's own) */
  reasoning_effort: z.string().trim().min(1).optional(),
});

/** `roles.<role>.claude_code`: options of the `claude-code` backend (specs/backends.md). */
export const claudeCodeSchema = z.object({
  /** Executable: a name looked up on PATH, or a path (`~` and relative paths resolve against the policy's folder). (Default: `claude`) */
  command: z.string().trim().min(1).default('claude'),
  /** Extra arguments appended after Foreman's own. (Default: `[]`) */
  extra_args: z.array(z.string()).default(() => []),
  /** Longest turn (one CLI invocation), ms. (Default: 3600000) */
  turn_timeout_ms: timerMs().default(3_600_000),
  /** No event from the CLI or the gateway for this long ends the turn, which is retried; `<= 0` = off. (Default: 300000) */
  stall_timeout_ms: stallMs().default(300_000),
});

/**
 * The keys every role shares to choose its agent: `backend` and each backend's options block
 * (read through src/agents/backends/config.ts `backendOf`, never directly).
 */
const backendFields = {
  /**
   * Which agent runs the role: Foreman's own tool loop, the Claude Code CLI or Codex's app server.
   * (Default: `builtin`; for the implementer `codex` when the policy has a top-level `codex` block)
   */
  backend: z.enum(BACKEND_NAMES).optional(),
  /** Options of the `claude-code` backend. (Default: see {@link claudeCodeSchema}) */
  claude_code: claudeCodeSchema.prefault({}),
  /** Options of the `codex` backend, over the top-level `codex` block key by key. (Default: `{}`) */
  codex: codexSchema.default(() => ({})),
};

/** `server`: the HTTP surface (webhooks, API, dashboard). */
export const serverSchema = z.object({
  /** Port to listen on; 0 picks a free port. (Default: none = no HTTP server unless `--port`) */
  port: z.preprocess(numericString, z.int().min(0).max(65_535)).optional(),
  /** Interface to bind. (Default: `127.0.0.1`) */
  host: z.string().min(1).default('127.0.0.1'),
  /**
   * Bearer token every route but the webhooks requires (`Authorization: Bearer <token>`); `$VAR`
   * allowed, write `$VAR`, never the token itself. Required when `host` (or `--host`) is not a
   * loopback address. (Default: none = no authentication, loopback only)
   */
  token: z.string().min(1).optional(),
});

/** `model`: the model endpoints every role talks to, through Foreman's model gateway (specs/gateway.md). */
export const modelSchema = z.object({
  /** Endpoint base URL without `/v1`; `$VAR` allowed. (Default: none = env ANTHROPIC_BASE_URL, else the SDK default) */
  base_url: z.string().min(1).optional(),
  /** API key; write `$VAR`, never the key itself. (Default: none = env ANTHROPIC_API_KEY) */
  api_key: z.string().min(1).optional(),
  /** Use streaming responses. (Default: false) */
  stream: z.boolean().default(false),
  /** Output tokens per model call. (Default: 8192) */
  max_tokens: positiveInt().default(8192),
  /** Time limit per model request in ms. (Default: 600000) */
  timeout_ms: timerMs().default(600_000),
  /** A response with no bytes for this long (ms) is aborted and retried. (Default: 60000) */
  idle_timeout_ms: timerMs().default(60_000),
  /** Retries per model call on 408/409/429/5xx/529 and connection errors, by the model gateway. (Default: 2) */
  max_retries: nonNegativeInt().default(2),
  /**
   * OpenAI Responses endpoint (with `/v1`) for the `codex` backend; `$VAR` allowed. (Default: none =
   * env OPENAI_BASE_URL, else `https://api.openai.com/v1`)
   */
  openai_base_url: z.string().min(1).optional(),
  /** OpenAI API key; write `$VAR`, never the key itself. (Default: none = env OPENAI_API_KEY) */
  openai_api_key: z.string().min(1).optional(),
});

/** `roles.implementer`: the agent that writes the change. */
export const implementerSchema = z.object({
  /** Model name. (Default: the backend's, src/agents/backends/config.ts `backendModel`) */
  model: z.string().min(1).optional(),
  /** Turns per session: model calls (`builtin`, `claude-code`) or Codex turns (`codex`). (Default: none = `agent.max_turns`) */
  max_turns: positiveInt().optional(),
  /** Extra system instructions appended to the built-in ones. (Default: none) */
  instructions: z.string().optional(),
  /** Output tokens per call for this role. (Default: none = `model.max_tokens`) */
  max_tokens: positiveInt().optional(),
  ...backendFields,
});

/** `roles.reviewer`: a read-only agent that reviews the diff against the spec. */
export const reviewerSchema = z.object({
  /** Run the reviewer after QA passes; `false` hands over without an independent review. (Default: true) */
  enabled: z.boolean().default(true),
  /** Model name. (Default: the backend's, src/agents/backends/config.ts `backendModel`) */
  model: z.string().min(1).optional(),
  /** Turns per review (see `roles.implementer.max_turns` for what a turn is per backend). (Default: 20) */
  max_turns: positiveInt().default(20),
  /** Extra system instructions (e.g. house rules). (Default: none) */
  instructions: z.string().optional(),
  ...backendFields,
});

/** `roles.qa`: optional agent on top of the `qa.commands` checks. */
export const qaRoleSchema = z.object({
  /** Also run a QA agent after the commands: it writes acceptance checks that Foreman runs. (Default: false) */
  agent: z.boolean().default(false),
  /** Model name. (Default: the backend's, src/agents/backends/config.ts `backendModel`) */
  model: z.string().min(1).optional(),
  /** Turns per QA session (see `roles.implementer.max_turns` for what a turn is per backend). (Default: 20) */
  max_turns: positiveInt().default(20),
  ...backendFields,
});

const severitySchema = z.enum(SEVERITIES);

/**
 * `review`: how reviewer findings gate the hand-off. Round 1's findings of the `first_round`
 * severities send the work back; later rounds only `later_rounds` ones (a severity ratchet, so
 * review converges instead of nit-picking forever).
 */
export const reviewSchema = z.object({
  /** Review rounds before open findings are escalated to a human. (Default: 3) */
  max_rounds: positiveInt().default(3),
  /** Severities that send work back in round 1. (Default: blocker, major, minor) */
  first_round: z.array(severitySchema).default(['blocker', 'major', 'minor']),
  /** Severities that send work back after round 1. (Default: blocker, major) */
  later_rounds: z.array(severitySchema).default(['blocker', 'major']),
});

/** `roles`: per-role model settings. */
export const rolesSchema = z.object({
  implementer: implementerSchema.prefault({}),
  reviewer: reviewerSchema.prefault({}),
  qa: qaRoleSchema.prefault({}),
});

/** `qa`: the evidence commands. */
export const qaSchema = z.object({
  /** Shell commands run in the workspace after each implementation round; all must exit 0. (Default: `[]`) */
  commands: z.array(z.string().trim().min(1)).default(() => []),
  /** Time limit per command in ms. (Default: 600000) */
  timeout_ms: timerMs().default(600_000),
  /** Implement → QA rounds before QA failures are escalated to a human. (Default: 3) */
  max_rounds: positiveInt().default(3),
  /** Bytes of each command's output kept as evidence (the tail). (Default: 4000) */
  output_tail_bytes: positiveInt().default(4000),
});

/** `handoff`: tracker states Foreman moves an issue to. */
export const handoffSchema = z.object({
  /** State set when work starts. (Default: `In Progress`) */
  in_progress_state: z.string().trim().min(1).default('In Progress'),
  /** State set when a PR with evidence is ready. (Default: `Human Review`) */
  review_state: z.string().trim().min(1).default('Human Review'),
  /** State set while an escalation waits for a human's answer. (Default: none = the issue stays where it is) */
  escalated_state: z.string().trim().min(1).optional(),
  /** State set when an escalation is parked after `escalation.timeout_ms`. (Default: none = stays where it is) */
  parked_state: z.string().trim().min(1).optional(),
  /** State set when the pull request is merged. (Default: `Done`) */
  done_state: z.string().trim().min(1).default('Done'),
  /** State set when a human answers an escalation with Stop. (Default: the first of `tracker.terminal_states`) */
  stopped_state: z.string().trim().min(1).optional(),
});

/** USD per million tokens for one model; cache writes and reads are priced apart. */
export const modelPriceSchema = z.object({
  input: z.preprocess(numericString, z.number().nonnegative()),
  output: z.preprocess(numericString, z.number().nonnegative()),
  cache_write: z.preprocess(numericString, z.number().nonnegative()),
  cache_read: z.preprocess(numericString, z.number().nonnegative()),
});

/** `budget`: limits per issue; reaching one escalates instead of looping. */
export const budgetSchema = z.object({
  /** Tokens per issue: input, output, cache write and cache read summed. (Default: none = unlimited) */
  max_tokens: positiveInt().optional(),
  /** Estimated USD per issue. (Default: none = unlimited) */
  max_usd: z.preprocess(numericString, z.number().positive()).optional(),
  /** Wall time per issue in ms. (Default: none = unlimited) */
  max_wall_ms: positiveInt().optional(),
  /** Attempts of each failing step (agent, git, tracker) before it is escalated. (Default: 3) */
  max_attempts: positiveInt().default(3),
  /** Model prices for `max_usd`, USD per million tokens, by model name; merged over the built-in table (src/agents/pricing.ts). */
  prices: z.record(z.string(), modelPriceSchema).default({}),
});

/**
 * `escalation`: how long to wait for a human. The workflow waits durably; `reping_ms` after the
 * question it posts one reminder, `timeout_ms` after it parks the issue (comment + `handoff.parked_state`)
 * and keeps waiting: a later answer still resumes the work.
 */
export const escalationSchema = z.object({
  /** Time without an answer, in ms, before the issue is parked. (Default: none = never parked) */
  timeout_ms: positiveInt().optional(),
  /** Time without an answer, in ms, before one reminder is posted. (Default: none = no reminder) */
  reping_ms: positiveInt().optional(),
});

/** `scm`: pushing the branch and opening the PR. */
export const scmSchema = z.object({
  /** Git remote the issue branch is pushed to. (Default: `origin`) */
  remote: z.string().trim().min(1).default('origin'),
  /** Commit author name. (Default: `Foreman`) */
  author_name: z.string().trim().min(1).default('Foreman'),
  /** Commit author email. (Default: `foreman@localhost`) */
  author_email: z.string().trim().min(1).default('foreman@localhost'),
  /** Open PRs as drafts (only when the PR is created; the API cannot change it later). (Default: false) */
  draft: z.boolean().default(false),
  /**
   * Open a pull request when the work is handed over, with the evidence packet as its body, when
   * the repository is on GitHub (`scm.github.repo`, or the remote's URL). (Default: true)
   */
  pull_requests: z.boolean().default(true),
  /** Red CI on the PR sends the work back this many times, then escalates. (Default: 2) */
  max_ci_rounds: positiveInt().default(2),
  /** GitHub for pull requests: `repo` (`owner/name`; default: from the remote's URL), `token` ($VAR; default: env GITHUB_TOKEN), `base_url`. */
  github: z
    .object({
      repo: z.string().trim().min(1).optional(),
      token: z.string().trim().min(1).optional(),
      base_url: z.string().trim().min(1).optional(),
    })
    .prefault({}),
});

/**
 * `schedules[].issue`: the issue a schedule files on each tick (user-defined periodic work, e.g. a
 * weekly "Update dependencies"). One issue per schedule per UTC day: identifier
 * `<ID>-<YYYYMMDD>` (the schedule id uppercased), filed through the tracker's `createIssue`.
 */
export const scheduledIssueSchema = z.object({
  /** Issue title. */
  title: z.string().trim().min(1),
  /** Issue body (Markdown). (Default: none) */
  description: z.string().optional(),
  /** Labels, e.g. to meet `tracker.required_labels`. (Default: `[]`) */
  labels: z.array(z.string().trim().min(1)).default(() => []),
  /** Priority, 1 (urgent) … 4 (low). (Default: none) */
  priority: positiveInt().optional(),
  /** State the issue is filed in. (Default: none = the first of `tracker.active_states`, else `Todo`) */
  state: z.string().trim().min(1).optional(),
});

/**
 * One `schedules` entry: a clock trigger, run as a Temporal Schedule (src/schedules/sync.ts).
 * Exactly one of `cron`, `interval_ms`. Without `issue` each tick asks the dispatcher to poll now;
 * with `issue` it files that issue, then asks the dispatcher to poll.
 */
export const scheduleSchema = z
  .object({
    /** Stable id (names the Temporal schedule). */
    id: z.string().trim().min(1),
    /** Cron expression (5 fields, UTC). */
    cron: z.string().trim().min(1).optional(),
    /** Interval in ms. */
    interval_ms: positiveInt().optional(),
    /** The issue filed on each tick. (Default: none = the tick only nudges the dispatcher) */
    issue: scheduledIssueSchema.optional(),
  })
  .refine((s) => (s.cron === undefined) !== (s.interval_ms === undefined), {
    message: 'set exactly one of cron or interval_ms',
  });

/**
 * Shape of an explicit `temporal.deployment` key (and of derived ones): safe inside workflow ids,
 * task queue names and visibility queries.
 */
export const DEPLOYMENT_KEY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,47}$/;

/** `temporal`: where workflows run. */
export const temporalSchema = z.object({
  /** Task queue workers poll. (Default: `foreman`) */
  task_queue: z.string().trim().min(1).default('foreman'),
  /** Temporal namespace (env TEMPORAL_NAMESPACE wins when set, see the CLI). (Default: `default`) */
  namespace: z.string().trim().min(1).default('default'),
  /**
   * Deployment key scoping this policy's workflow ids, task queue and `ForemanDeployment` search
   * attribute on a shared namespace (src/deployment.ts). (Default: derived from the tracker)
   */
  deployment: z
    .string()
    .trim()
    .regex(DEPLOYMENT_KEY_PATTERN, 'must be 1-48 letters, digits, `_`, `.` or `-`, starting with a letter or digit')
    .optional(),
  /**
   * Workflow runs a worker keeps cached (replay-free). Runs waiting for a human are evicted past
   * it and replayed from history when their signal arrives, so memory follows the running runs,
   * not the parked ones. (Default: 100)
   */
  max_cached_workflows: positiveInt().default(100),
  /**
   * How long a step on an issue's workspace may wait for the worker that holds the workspace to
   * take it, ms, before that worker counts as gone and the workspace is re-created on another
   * worker (docs/architecture.md, "Scale"). A live worker takes it within a poll: its workspace
   * queue has its own slots. Long enough for a restart of that worker on the same host and home.
   * (Default: 120000)
   */
  workspace_start_timeout_ms: positiveInt().default(120_000),
});

/**
 * `sandbox`: the walls around commands Foreman runs for agents (`run_command`, QA commands, the QA
 * agent's checks, `before_run` / `after_run`; src/sandbox/).
 */
export const sandboxSchema = z.object({
  /** `bwrap`: bubblewrap namespaces; `none`: plain host processes (a risk named in the evidence). (Default: `bwrap`) */
  mode: z.enum(['bwrap', 'none']).default('bwrap'),
  /** `none`: empty network namespace; `host`: the host's network; `allowlist`: only `allow_hosts`, via Foreman's proxy. (Default: `none`) */
  network: z.enum(['none', 'host', 'allowlist']).default('none'),
  /** `host` or `host:port` (`*.domain` for subdomains) reachable with `network: allowlist`. (Default: `[]`) */
  allow_hosts: z.array(z.string().trim().min(1)).default(() => []),
  /** Extra host directories bound read-only (toolchains the defaults miss). (Default: `[]`) */
  ro_paths: z.array(z.string().trim().min(1)).default(() => []),
});

/** The whole front matter. The loader refuses unknown keys before this parses (load.ts). */
export const policySchema = z.object({
  tracker: trackerSchema.prefault({}),
  trust: trustSchema.prefault({}),
  polling: pollingSchema.prefault({}),
  workspace: workspaceSchema.prefault({}),
  hooks: hooksSchema.prefault({}),
  agent: agentSchema.prefault({}),
  /** Symphony's `codex` block: the implementer's backend unless `roles.implementer.backend` says otherwise. (Default: none) */
  codex: codexSchema.optional(),
  server: serverSchema.prefault({}),
  model: modelSchema.prefault({}),
  roles: rolesSchema.prefault({}),
  qa: qaSchema.prefault({}),
  review: reviewSchema.prefault({}),
  handoff: handoffSchema.prefault({}),
  budget: budgetSchema.prefault({}),
  escalation: escalationSchema.prefault({}),
  scm: scmSchema.prefault({}),
  /**
   * Globs (picomatch) of paths that are never pushed without a human's approval through an
   * escalation (e.g. `.github/workflows/**`, `migrations/**`). (Default: `[]`)
   */
  protected_paths: z.array(z.string().trim().min(1)).default(() => []),
  /**
   * Default Scope of an issue's spec: globs of the paths a change may touch; files outside are
   * flagged in the evidence. The spec's Scope section (humans may edit it) is what is checked.
   * (Default: `[]` = everything)
   */
  scope: z.array(z.string().trim().min(1)).default(() => []),
  /** Clock triggers. (Default: `[]`) */
  schedules: z
    .array(scheduleSchema)
    .default(() => [])
    .superRefine((list, ctx) => {
      const seen = new Set<string>();
      list.forEach((s, i) => {
        if (seen.has(s.id))
          ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `duplicate schedule id "${s.id}"` });
        seen.add(s.id);
      });
    }),
  temporal: temporalSchema.prefault({}),
  sandbox: sandboxSchema.prefault({}),
});

/** The resolved policy: every default applied, paths absolute, `$VAR`s substituted. */
export type Policy = z.infer<typeof policySchema>;
/** What a policy file may say (before defaults). */
export type PolicyInput = z.input<typeof policySchema>;

/** The policy with every default, as if the front matter were empty. */
export function defaultPolicy(): Policy {
  return policySchema.parse({});
}
