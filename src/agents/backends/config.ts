/**
 * Which agent backend runs each role, with what options and model, as the policy resolves it
 * (specs/backends.md): `roles.<role>.backend` and its `claude_code` / `codex` block, Symphony's
 * top-level `codex` block (SPEC §5.3.6) for the implementer, and each backend's default model.
 * Pure functions of the resolved policy; the one place these rules live.
 */
import { DEFAULT_MODEL, type Policy } from '../../config/schema.js';
import type { AgentRole } from '../usage.js';
import type { BackendName, BackendSettings } from './types.js';

/** Default model of a role on `claude-code`: the Claude Code CLI's own default model. */
export const CLAUDE_CODE_DEFAULT_MODEL = 'claude-opus-5-5';
/** Default model of a role on `codex` when neither the policy nor `codex.command` names one. */
export const CODEX_DEFAULT_MODEL = 'gpt-5.5';

/** Defaults of the `codex` options (Symphony SPEC §5.3.6; approval and sandbox: specs/backends.md). */
export const CODEX_DEFAULTS = {
  command: 'codex app-server',
  approvalPolicy: 'never',
  threadSandbox: 'workspace-write',
  turnSandboxPolicy: null,
  turnTimeoutMs: 3_600_000,
  readTimeoutMs: 5_000,
  stallTimeoutMs: 300_000,
} as const;

/** The roles, in the order a run uses them. */
export const ROLES: readonly AgentRole[] = ['implementer', 'reviewer', 'qa'];

/**
 * The backend name of `role`: `roles.<role>.backend` when set; else `codex` for the implementer
 * of a policy with a top-level (Symphony) `codex` block; else `builtin`.
 */
export function backendNameOf(policy: Policy, role: AgentRole): BackendName {
  const explicit = policy.roles[role].backend;
  if (explicit !== undefined) return explicit;
  return role === 'implementer' && policy.codex !== undefined ? 'codex' : 'builtin';
}

/**
 * The resolved backend of `role`, every default applied (times in ms). A `codex` role takes
 * `roles.<role>.codex` over the top-level `codex` block key by key, over {@link CODEX_DEFAULTS};
 * a `claude-code` role takes `roles.<role>.claude_code` (its defaults are the schema's).
 */
export function backendOf(policy: Policy, role: AgentRole): BackendSettings {
  const name = backendNameOf(policy, role);
  const cfg = policy.roles[role];
  if (name === 'builtin') return { name };
  if (name === 'claude-code') {
    const c = cfg.claude_code;
    return {
      name,
      command: c.command,
      extraArgs: [...c.extra_args],
      turnTimeoutMs: c.turn_timeout_ms,
      stallTimeoutMs: c.stall_timeout_ms,
    };
  }
  const c = { ...policy.codex, ...cfg.codex };
  return {
    name,
    command: c.command ?? CODEX_DEFAULTS.command,
    approvalPolicy: c.approval_policy ?? CODEX_DEFAULTS.approvalPolicy,
    threadSandbox: c.thread_sandbox ?? CODEX_DEFAULTS.threadSandbox,
    turnSandboxPolicy: c.turn_sandbox_policy ?? CODEX_DEFAULTS.turnSandboxPolicy,
    turnTimeoutMs: c.turn_timeout_ms ?? CODEX_DEFAULTS.turnTimeoutMs,
    readTimeoutMs: c.read_timeout_ms ?? CODEX_DEFAULTS.readTimeoutMs,
    stallTimeoutMs: c.stall_timeout_ms ?? CODEX_DEFAULTS.stallTimeoutMs,
    ...(c.reasoning_effort !== undefined ? { reasoningEffort: c.reasoning_effort } : {}),
  };
}

/**
 * The model `role` runs with: `roles.<role>.model` when set; else the backend's default —
 * `builtin`: {@link DEFAULT_MODEL}; `claude-code`: {@link CLAUDE_CODE_DEFAULT_MODEL}; `codex`: the
 * model `codex.command` sets (`-m`, `--model`, `-c model=…`, as Symphony files do), else
 * {@link CODEX_DEFAULT_MODEL}.
 */
export function backendModel(policy: Policy, role: AgentRole): string {
  const explicit = policy.roles[role].model;
  if (explicit !== undefined) return explicit;
  const settings = backendOf(policy, role);
  if (settings.name === 'claude-code') return CLAUDE_CODE_DEFAULT_MODEL;
  if (settings.name === 'codex') return commandModel(settings.command) ?? CODEX_DEFAULT_MODEL;
  return DEFAULT_MODEL;
}

/** Whether `role` runs at all under `policy`: the implementer always, the reviewer when `enabled`, QA when `agent`. */
export function roleEnabled(policy: Policy, role: AgentRole): boolean {
  if (role === 'reviewer') return policy.roles.reviewer.enabled;
  if (role === 'qa') return policy.roles.qa.agent;
  return true;
}

/**
 * One line per role saying which backend and model it uses and why, for `foreman validate`, e.g.
 * `implementer: codex (gpt-5.5, from Symphony's codex block)`, `reviewer: off (roles.reviewer.enabled: false)`.
 */
export function describeBackends(policy: Policy): string[] {
  return ROLES.map((role) => {
    if (!roleEnabled(policy, role)) {
      const key = role === 'reviewer' ? 'roles.reviewer.enabled' : 'roles.qa.agent';
      return `${role}: off (${key}: false)`;
    }
    const name = backendNameOf(policy, role);
    const why = policy.roles[role].backend === undefined && name === 'codex' ? ", from Symphony's codex block" : '';
    return `${role}: ${name} (${backendModel(policy, role)}${why})`;
  });
}

/**
 * The executable a CLI backend starts: `claude_code.command` itself, or the first word of the
 * `codex.command` shell line after `NAME=value` assignments and `env`. Null for `builtin`.
 */
export function backendExecutable(settings: BackendSettings): string | null {
  if (settings.name === 'builtin') return null;
  if (settings.name === 'claude-code') return settings.command;
  const words = shellWords(settings.command);
  const first = words.findIndex((w) => w !== 'env' && !/^[A-Za-z_][A-Za-z0-9_]*=/.test(w));
  return first === -1 ? null : words[first]!;
}

/**
 * The model a Codex command line sets, if any: `-m M`, `--model M` / `--model=M`, or
 * `-c model=M` / `--config model=M` (TOML quotes around M removed). Null when it sets none.
 */
export function commandModel(command: string): string | null {
  const words = shellWords(command);
  let model: string | null = null;
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    const next = words[i + 1];
    if ((w === '-m' || w === '--model') && next !== undefined) model = next;
    else if (w.startsWith('--model=')) model = w.slice('--model='.length);
    else if ((w === '-c' || w === '--config') && next !== undefined) {
      const m = /^model\s*=\s*(.+)$/.exec(next);
      if (m) model = m[1]!.trim().replace(/^(["'])(.*)\1$/, '$2');
    }
  }
  return model === null || model === '' ? null : model;
}

/**
 * Splits a shell command line into words the way `sh` would for plain words: single quotes keep
 * everything, double quotes keep all but `\\"` and `\\\\`, a backslash outside quotes escapes the
 * next character. No expansion of `$`, globs or operators (they stay in the words).
 */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quote === "'") {
      if (ch === "'") quote = null;
      else word += ch;
    } else if (quote === '"') {
      if (ch === '"') quote = null;
      else if (ch === '\\' && (line[i + 1] === '"' || line[i + 1] === '\\')) word += line[++i];
      else word += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      inWord = true;
    } else if (ch === '\\' && i + 1 < line.length) {
      word += line[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += ch;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}
