/**
 * The policy loader: policy file → front matter + prompt body → YAML → `$VAR` / `~` / relative
 * paths → defaults → validation (Symphony SPEC §5.1–5.2, §6.1). One error class, `PolicyError`,
 * with the Symphony codes; unknown keys are errors with a "did you mean", Symphony keys
 * Foreman knowingly ignores are warnings.
 *
 * Owns: reading and resolving one policy file. Does not own: the schema (schema.ts), rendering
 * (prompt.ts), reloading (store.ts), or deciding whether a tracker kind is supported (the tracker
 * factory does that when it builds the adapter).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { PolicyError } from '../errors.js';
import type { Issue } from '../trackers/types.js';
import { renderPrompt } from './prompt.js';
import { policySchema } from './schema.js';
import { backendNameOf, ROLES } from '../agents/backends/config.js';
import { unpricedRoles } from '../agents/pricing.js';
import { rememberSecrets } from '../redact.js';
import { policySecrets } from './secrets.js';
import type { Policy } from './schema.js';

/** A policy file, loaded and resolved. */
export interface LoadedPolicy {
  /** Absolute path of the policy file. */
  file: string;
  /** Directory of the policy file; relative paths in it resolve against this. */
  dir: string;
  /** The resolved policy (defaults applied, paths absolute, `$VAR`s substituted). */
  policy: Policy;
  /** The prompt template: the Markdown body, trimmed (may be empty; see prompt.ts for the fallback). */
  promptTemplate: string;
  /** Things ignored on purpose (unknown keys, dropped entries), one sentence each, naming the key. */
  warnings: string[];
  /** sha256 hex of the file's bytes; changes whenever the file does. */
  digest: string;
}

/** Options for loading a policy. */
export interface LoadPolicyOptions {
  /** Environment for `$VAR` and `~` (HOME). (Default: `process.env`) */
  env?: NodeJS.ProcessEnv;
  /**
   * Treat an empty file as an error (`workflow_empty`) instead of "all defaults". Reloads use it:
   * an empty file there is almost always a save caught half-way. (Default: false)
   */
  rejectEmpty?: boolean;
}

/** `tracker` keys defined by the core schema; any other tracker-level key is adapter-owned. */
const CORE_TRACKER_KEYS = new Set(['kind', 'provider', 'required_labels', 'active_states', 'terminal_states']);

/**
 * Reads and resolves a policy file.
 *
 * @param file - path of the policy file (relative to the cwd).
 * @throws PolicyError `missing_workflow_file` (cannot be read), `workflow_empty` (with
 *   `rejectEmpty`), `workflow_parse_error`, `workflow_front_matter_not_a_map`, `policy_invalid`
 *   (see parsePolicyText).
 */
export async function loadPolicy(file: string, opts: LoadPolicyOptions = {}): Promise<LoadedPolicy> {
  const abs = path.resolve(file);
  let bytes: Buffer;
  try {
    bytes = await readFile(abs);
  } catch (err) {
    throw new PolicyError(
      'missing_workflow_file',
      `Cannot read the policy file ${abs} (${(err as NodeJS.ErrnoException).code ?? String(err)}). ` +
        'Create it (specs/WORKFLOW.md is a starting point) or pass its path.',
      { cause: err, file: abs },
    );
  }
  if (opts.rejectEmpty && !bytes.toString('utf8').trim()) {
    throw new PolicyError('workflow_empty', `The policy file ${abs} is empty; keeping the last good policy.`, {
      file: abs,
    });
  }
  return parseBytes(bytes, abs, opts.env ?? process.env);
}

/**
 * Parses and resolves policy text as if it were the contents of `opts.file` (same rules as
 * loadPolicy; `file` anchors relative paths and names the file in errors).
 *
 * @throws PolicyError `workflow_parse_error` (unclosed front matter or bad YAML, with line and
 *   column in the file), `workflow_front_matter_not_a_map`, `policy_invalid` (`issues` lists each
 *   key path; the message comes from `z.prettifyError`).
 */
export function parsePolicyText(text: string, opts: { file: string; env?: NodeJS.ProcessEnv }): LoadedPolicy {
  return parseBytes(Buffer.from(text, 'utf8'), path.resolve(opts.file), opts.env ?? process.env);
}

/** A sample issue for test renders: every field set, so templates touching any field render. */
export function sampleIssue(): Issue {
  return {
    id: 'sample-id',
    identifier: 'SAMPLE-1',
    title: 'Sample issue',
    description: 'A sample description used to check the prompt template.',
    priority: 2,
    state: 'Todo',
    branch_name: null,
    url: 'https://example.invalid/issues/SAMPLE-1',
    assignee_id: null,
    labels: ['sample'],
    blocked_by: [{ id: 'blocker-id', identifier: 'SAMPLE-0', state: 'Done' }],
    dispatchable: true,
    created_at: '2026-01-01T00:00:00Z',
    updated_at: '2026-01-01T00:00:00Z',
    native_ref: null,
  };
}

/**
 * Loads a policy and test-renders its prompt, so template errors surface at `foreman validate`
 * instead of at the first run. Renders twice (first attempt with a full sample issue, then a retry
 * with the optional fields null) to reach both sides of `{% if attempt %}` / `{% if issue.… %}`.
 *
 * @param opts.extraVars - more template variables the caller will provide at run time.
 * @throws PolicyError any loadPolicy code, `template_parse_error`, `template_render_error`.
 */
export async function validatePolicyFile(
  file: string,
  opts: LoadPolicyOptions & { extraVars?: Record<string, unknown> } = {},
): Promise<LoadedPolicy> {
  const loaded = await loadPolicy(file, opts);
  const full = sampleIssue();
  const sparse: Issue = {
    ...full,
    description: null,
    priority: null,
    url: null,
    labels: [],
    blocked_by: [],
    created_at: null,
    updated_at: null,
  };
  for (const [issue, attempt] of [
    [full, null],
    [sparse, 2],
  ] as const) {
    await renderPrompt(loaded.promptTemplate, { ...opts.extraVars, issue, attempt }, { file: loaded.file });
  }
  return loaded;
}

function parseBytes(bytes: Buffer, file: string, env: NodeJS.ProcessEnv): LoadedPolicy {
  const digest = createHash('sha256').update(bytes).digest('hex');
  const dir = path.dirname(file);
  const { frontMatter, frontMatterLine, body } = splitFrontMatter(bytes.toString('utf8'), file);
  const raw = frontMatter === null ? {} : parseYaml(frontMatter, frontMatterLine, file);
  const warnings: string[] = [];
  const prepared = prepare(raw, { file, dir, env, warnings });
  const result = policySchema.safeParse(prepared);
  if (!result.success) throw invalidPolicy(result.error, file);
  const policy = result.data;
  warnings.push(...consistencyWarnings(policy), ...backendWarnings(policy, prepared), ...priceWarnings(policy, file));
  // The redactor learns every secret a policy holds as soon as it is loaded (src/redact.ts).
  rememberSecrets(policySecrets(policy));
  return { file, dir, policy, promptTemplate: body.trim(), warnings, digest };
}

/** Splits `---` front matter from the body (Symphony SPEC §5.2). `frontMatterLine` is the 1-based file line where the YAML starts. */
function splitFrontMatter(
  text: string,
  file: string,
): { frontMatter: string | null; frontMatterLine: number; body: string } {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  if (lines[0]?.trimEnd() !== '---') return { frontMatter: null, frontMatterLine: 0, body: lines.join('\n') };
  const close = lines.findIndex((line, i) => i > 0 && line.trimEnd() === '---');
  if (close === -1) {
    throw new PolicyError(
      'workflow_parse_error',
      `${file}:1: the front matter opened with --- is never closed. Add a line with --- after the YAML.`,
      { file },
    );
  }
  return { frontMatter: lines.slice(1, close).join('\n'), frontMatterLine: 2, body: lines.slice(close + 1).join('\n') };
}

function parseYaml(source: string, firstLine: number, file: string): Record<string, unknown> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(source, { prettyErrors: false, lineCounter });
  const [first] = doc.errors;
  if (first) {
    const pos = lineCounter.linePos(first.pos[0]);
    const where = `${file}:${pos.line + firstLine - 1}:${pos.col}`;
    throw new PolicyError(
      'workflow_parse_error',
      `${where}: invalid YAML front matter: ${first.message}. Fix the YAML between the --- lines.`,
      {
        cause: first,
        file,
      },
    );
  }
  const value: unknown = doc.toJS();
  // An empty (or all-comment) front matter is an empty map, as if it were absent.
  if (value === null || value === undefined) return {};
  if (!isMap(value)) {
    const kind = Array.isArray(value) ? 'a list' : `a ${typeof value}`;
    throw new PolicyError(
      'workflow_front_matter_not_a_map',
      `${file}: the front matter is ${kind}; it must be a map of keys (tracker:, agent:, …). See specs/policy.md.`,
      { file },
    );
  }
  return value;
}

interface PrepareContext {
  file: string;
  dir: string;
  env: NodeJS.ProcessEnv;
  warnings: string[];
}

/**
 * The resolution pass before zod: drops nulls (so defaults apply to `key:` with no value, as in
 * Symphony), warns about unknown keys, substitutes `$VAR`s and resolves paths. Works on a copy.
 */
function prepare(raw: Record<string, unknown>, ctx: PrepareContext): Record<string, unknown> {
  const config = dropNulls(raw) as Record<string, unknown>;
  const unknown = checkUnknownKeys(config, ctx.warnings);
  if (unknown.length) throw unknownKeys(unknown, ctx.file);

  const tracker = config.tracker;
  if (isMap(tracker)) {
    if (isMap(tracker.provider) || tracker.provider === undefined) {
      // Symphony's legacy flat keys (api_key, endpoint, project_slug, …) sit beside `kind`; copy
      // them into `provider` (which wins) so adapters read one place. They also stay where they are.
      const legacy = Object.fromEntries(Object.entries(tracker).filter(([key]) => !CORE_TRACKER_KEYS.has(key)));
      const provider = { ...legacy, ...(tracker.provider ?? {}) };
      resolveVarsDeep(provider, ctx.env);
      resolvePathField(provider, 'path', ctx);
      tracker.provider = provider;
    }
    resolveVarField(tracker, 'api_key', ctx.env);
  }

  const workspace = config.workspace;
  if (isMap(workspace)) {
    resolveVarField(workspace, 'root', ctx.env);
    resolvePathField(workspace, 'root', ctx);
    resolveVarField(workspace, 'repo', ctx.env);
    if (typeof workspace.repo === 'string' && isLocalRepoPath(workspace.repo)) resolvePathField(workspace, 'repo', ctx);
  }

  const model = config.model;
  if (isMap(model)) {
    for (const field of ['api_key', 'base_url', 'openai_api_key', 'openai_base_url'])
      resolveVarField(model, field, ctx.env);
  }

  const scm = config.scm;
  if (isMap(scm) && isMap(scm.github)) resolveVarsDeep(scm.github, ctx.env);

  if (isMap(config.server)) resolveVarField(config.server, 'token', ctx.env);

  // A claude-code command that is a path (not a bare name looked up on PATH) is relative to the policy.
  if (isMap(config.roles)) {
    for (const role of Object.values(config.roles)) {
      if (!isMap(role) || !isMap(role.claude_code)) continue;
      const command = role.claude_code.command;
      if (typeof command === 'string' && (command.includes('/') || command.trim().startsWith('~')))
        resolvePathField(role.claude_code, 'command', ctx);
    }
  }

  const agent = config.agent;
  if (isMap(agent) && isMap(agent.max_concurrent_agents_by_state)) {
    for (const [state, limit] of Object.entries(agent.max_concurrent_agents_by_state)) {
      const n = typeof limit === 'string' ? Number(limit) : limit;
      if (state.trim() === '' || typeof n !== 'number' || !Number.isInteger(n) || n <= 0) {
        ctx.warnings.push(
          `agent.max_concurrent_agents_by_state.${state}: ignored; the limit must be a positive integer and the state non-blank.`,
        );
      }
    }
  }
  return config;
}

const VAR_REF = /^\$(?:([A-Za-z_][A-Za-z0-9_]*)|\{([A-Za-z_][A-Za-z0-9_]*)\})$/;

/**
 * Resolves a whole-value `$NAME` / `${NAME}` reference (Symphony SPEC §6.1). Returns the value
 * unchanged when it is not a reference, `undefined` when the variable is unset or empty (an empty
 * secret counts as missing, SPEC §5.3.1). An empty literal string is also unset.
 */
export function resolveVar(value: string, env: NodeJS.ProcessEnv): string | undefined {
  const match = VAR_REF.exec(value.trim());
  const resolved = match ? env[(match[1] ?? match[2]) as string] : value;
  return resolved === undefined || resolved === '' ? undefined : resolved;
}

function resolveVarField(obj: Record<string, unknown>, key: string, env: NodeJS.ProcessEnv): void {
  const value = obj[key];
  if (typeof value !== 'string') return;
  const resolved = resolveVar(value, env);
  if (resolved === undefined) delete obj[key];
  else obj[key] = resolved;
}

function resolveVarsDeep(obj: Record<string, unknown>, env: NodeJS.ProcessEnv): void {
  for (const [key, value] of Object.entries(obj)) {
    if (typeof value === 'string') resolveVarField(obj, key, env);
    else if (isMap(value)) resolveVarsDeep(value, env);
  }
}

/** `~` expansion and resolution against the policy directory, for a local-path field. */
function resolvePathField(obj: Record<string, unknown>, key: string, ctx: PrepareContext): void {
  const value = obj[key];
  if (typeof value !== 'string' || value.trim() === '') return;
  obj[key] = resolveLocalPath(value.trim(), ctx.dir, ctx.env);
}

/**
 * Expands a leading `~` (HOME from `env`) and resolves a relative path against `dir`; the result
 * is absolute and normalized (Symphony SPEC §5.3.3).
 */
export function resolveLocalPath(value: string, dir: string, env: NodeJS.ProcessEnv = process.env): string {
  let p = value;
  if (p === '~' || p.startsWith('~/')) p = path.join(env.HOME || os.homedir(), p.slice(1));
  return path.resolve(dir, p);
}

/** True when a `workspace.repo` value is a local path rather than a URL or scp-style `user@host:path`. */
export function isLocalRepoPath(value: string): boolean {
  if (/^[/.~]/.test(value)) return true;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return false;
  return !/^[^/\s]+@[^/\s]+:/.test(value);
}

/**
 * Symphony keys Foreman knowingly ignores, each with the reason shown in its warning (specs/policy.md,
 * "Symphony compatibility"). They load, so a Symphony file works as-is; every other unknown key is
 * an error. The one list of them.
 */
export const SYMPHONY_IGNORED_KEYS: Readonly<Record<string, string>> = {
  worker: 'Foreman runs its work on Temporal workers, not SSH workers',
  observability: "Foreman's status surfaces are `foreman status` and the HTTP API",
};

/** An unknown key: its path and the sentence for the person (with a "did you mean" when one is close). */
interface UnknownKey {
  path: string;
  message: string;
}

/**
 * Checks every key of the front matter against the schema, at every level. Unknown keys are
 * returned (the caller makes them a `policy_invalid` error); Symphony's ignored keys become
 * warnings. `tracker` is an open map (Symphony's legacy flat keys are adapter-owned), so there only
 * a near miss of a core key (`kinds`, `active_state`) counts as unknown; `tracker.provider` and
 * the map-valued keys (`budget.prices`, `agent.max_concurrent_agents_by_state`, Codex's
 * pass-through `approval_policy` and `turn_sandbox_policy`) are open.
 */
function checkUnknownKeys(config: Record<string, unknown>, warnings: string[]): UnknownKey[] {
  const unknown: UnknownKey[] = [];
  for (const key of Object.keys(config)) {
    const reason = SYMPHONY_IGNORED_KEYS[key];
    if (reason !== undefined) warnings.push(`${key}: Symphony setting not used by Foreman (${reason}); ignored.`);
  }
  const tracker = config.tracker;
  if (isMap(tracker)) {
    for (const key of Object.keys(tracker)) {
      if (CORE_TRACKER_KEYS.has(key) || LEGACY_TRACKER_KEYS.has(key)) continue;
      const near = closest(key, [...CORE_TRACKER_KEYS]);
      if (near !== null) unknown.push(unknownKey(`tracker.${key}`, 'tracker', [...CORE_TRACKER_KEYS]));
    }
  }
  walkUnknown(policySchema, config, '', unknown);
  return unknown;
}

/** Symphony's legacy flat `tracker` keys (SPEC §5.3.1): never taken for a typo of a core key. */
const LEGACY_TRACKER_KEYS = new Set(['api_key', 'endpoint', 'project_slug', 'assignee']);

function walkUnknown(schema: z.ZodType, value: unknown, at: string, unknown: UnknownKey[]): void {
  const inner = unwrap(schema);
  const def = inner._zod.def as {
    type: string;
    shape?: Record<string, z.ZodType>;
    catchall?: unknown;
    element?: z.ZodType;
  };
  if (def.type === 'array' && def.element && Array.isArray(value)) {
    value.forEach((item, i) => walkUnknown(def.element as z.ZodType, item, `${at}[${i}]`, unknown));
    return;
  }
  if (def.type !== 'object' || !def.shape || def.catchall !== undefined || !isMap(value)) return;
  for (const [key, child] of Object.entries(value)) {
    const childSchema = def.shape[key];
    const keyPath = at === '' ? key : `${at}.${key}`;
    if (childSchema) walkUnknown(childSchema, child, keyPath, unknown);
    else if (!(at === '' && key in SYMPHONY_IGNORED_KEYS))
      unknown.push(unknownKey(keyPath, at, Object.keys(def.shape)));
  }
}

/** The sentence for one unknown key: the nearest known key of its section, else the list of them. */
function unknownKey(keyPath: string, section: string, known: string[]): UnknownKey {
  const key = keyPath.slice(keyPath.lastIndexOf('.') + 1);
  const near = closest(key, known);
  const where = section === '' ? 'top-level key' : `key of ${section}`;
  const full = (k: string) => (section === '' ? k : `${section}.${k}`);
  const message =
    near !== null
      ? `unknown ${where}; did you mean \`${full(near)}\`?`
      : `unknown ${where}; known: ${known.join(', ')} (see specs/policy.md).`;
  return { path: keyPath, message };
}

/**
 * The known key nearest to `key` by edit distance (Levenshtein, case-insensitive), when it is close
 * enough to be a typo: at most 1 edit for keys of up to 4 characters, 2 up to 8, else 3.
 */
export function closest(key: string, known: readonly string[]): string | null {
  const limit = key.length <= 4 ? 1 : key.length <= 8 ? 2 : 3;
  let best: string | null = null;
  let bestDistance = limit + 1;
  for (const candidate of known) {
    const d = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}

function unwrap(schema: z.ZodType): z.ZodType {
  let current = schema;
  for (;;) {
    const def = current._zod.def as { type: string; innerType?: z.ZodType };
    if (['default', 'prefault', 'optional', 'nullable'].includes(def.type) && def.innerType) current = def.innerType;
    else return current;
  }
}

/** Warnings about combinations that are valid but almost certainly not meant. */
function consistencyWarnings(policy: Policy): string[] {
  const norm = (s: string) => s.trim().toLowerCase();
  const active = new Set(policy.tracker.active_states.map(norm));
  const terminal = new Set(policy.tracker.terminal_states.map(norm));
  const out: string[] = [];
  const review = policy.handoff.review_state;
  if (active.has(norm(review))) {
    out.push(
      `handoff.review_state "${review}" is also in tracker.active_states, so issues handed to review would be picked up again.`,
    );
  }
  for (const state of active) {
    if (terminal.has(state))
      out.push(`tracker.active_states and tracker.terminal_states both contain "${state}"; terminal wins.`);
  }
  if (policy.roles.qa.agent && policy.qa.commands.length === 0) {
    out.push('roles.qa.agent is true but qa.commands is empty; the QA agent has no commands to check.');
  }
  return out;
}

/**
 * Backend options written but not used (specs/backends.md): a role's `claude_code` / `codex` block
 * while the role runs on another backend, and Symphony's top-level `codex` block when no role runs
 * on `codex` (`roles.implementer.backend` chose another).
 */
function backendWarnings(policy: Policy, raw: Record<string, unknown>): string[] {
  const out: string[] = [];
  const rawRoles = isMap(raw.roles) ? raw.roles : {};
  for (const role of ROLES) {
    const name = backendNameOf(policy, role);
    const rawRole = rawRoles[role];
    if (!isMap(rawRole)) continue;
    for (const [key, backend] of [
      ['claude_code', 'claude-code'],
      ['codex', 'codex'],
    ] as const) {
      if (rawRole[key] !== undefined && name !== backend)
        out.push(`roles.${role}.${key}: not used, roles.${role} runs on ${name}; ignored.`);
    }
  }
  if (policy.codex !== undefined && !ROLES.some((role) => backendNameOf(policy, role) === 'codex')) {
    out.push(
      `codex: Symphony's codex block is not used, roles.implementer.backend is ${backendNameOf(policy, 'implementer')}; ignored.`,
    );
  }
  return out;
}

/**
 * Role models without a price (src/agents/pricing.ts `unpricedRoles`): a warning each, since
 * their cost is unknown; with `budget.max_usd` set, a `model_unpriced` error, since that budget
 * could never trigger for them (specs/backends.md, "Prices").
 * @throws PolicyError `model_unpriced`, `issues` naming each role's `model` key.
 */
function priceWarnings(policy: Policy, file: string): string[] {
  const unpriced = unpricedRoles(policy);
  if (unpriced.length === 0) return [];
  if (policy.budget.max_usd !== undefined) {
    const issues = unpriced.map(({ role, model }) => ({
      path: `roles.${role}.model`,
      message: `"${model}" has no price, so budget.max_usd cannot be enforced for it; add budget.prices.${model} (USD per million tokens: input, output, cache_write, cache_read).`,
    }));
    throw new PolicyError(
      'model_unpriced',
      `${file}: budget.max_usd is set but ${unpriced.map((u) => `the ${u.role}'s model "${u.model}"`).join(' and ')} ` +
        `${unpriced.length === 1 ? 'has' : 'have'} no price. Add budget.prices for ${unpriced.length === 1 ? 'it' : 'them'}, or remove budget.max_usd.`,
      { issues, file },
    );
  }
  return unpriced.map(
    ({ role, model }) =>
      `roles.${role}.model: "${model}" has no price, so its cost shows as unknown; add budget.prices.${model} to count it.`,
  );
}

/** `policy_invalid` for unknown keys: one line per key path, each with its suggestion. */
function unknownKeys(unknown: UnknownKey[], file: string): PolicyError {
  const lines = unknown.map((u) => `  - ${u.path}: ${u.message}`).join('\n');
  return new PolicyError(
    'policy_invalid',
    `${file}: unknown keys. Fix or remove them (see specs/policy.md):\n${lines}`,
    {
      issues: unknown,
      file,
    },
  );
}

function invalidPolicy(error: z.ZodError, file: string): PolicyError {
  const issues = error.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message }));
  return new PolicyError(
    'policy_invalid',
    `${file}: invalid policy. Fix these keys (see specs/policy.md):\n${z.prettifyError(error)}`,
    {
      issues,
      file,
      cause: error,
    },
  );
}

/** `['agent', 'max_turns']` → `agent.max_turns`; `['schedules', 0, 'id']` → `schedules[0].id`. */
function formatPath(segments: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of segments) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out;
}

function dropNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropNulls);
  if (!isMap(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    if (child !== null && child !== undefined) out[key] = dropNulls(child);
  }
  return out;
}

function isMap(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !Buffer.isBuffer(value) &&
    !(value instanceof Date)
  );
}
