/**
 * Where the codex backend keeps its state (specs/backends.md, "codex"): CODEX_HOME, a per-issue,
 * per-role directory in the workspace's `.foreman/` (git-ignored, left out of Foreman's commit,
 * inside the sandbox, not under /tmp), with a `config.toml` that points codex's model provider at
 * the gateway session and configures Foreman's MCP server; and the thread id, kept next to the
 * role's transcript so a later step resumes the same thread. No secret is written: the session
 * token reaches codex only through the environment variable {@link GATEWAY_TOKEN_ENV}.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { AgentRole } from '../../usage.js';
import { FOREMAN_MCP_SERVER } from './policy.js';

/**
 * The variable codex reads the session token from (model provider `env_key`, MCP
 * `bearer_token_env_var`). Its name holds TOKEN, so codex's default shell-environment policy keeps
 * it out of the agent's commands.
 */
export const GATEWAY_TOKEN_ENV = 'FOREMAN_GATEWAY_TOKEN';

/** The model provider id Foreman configures in codex. */
export const PROVIDER_ID = 'foreman';

/** CODEX_HOME of `role` in `workspace`: `<workspace>/.foreman/codex/<role>`. */
export function codexHomeOf(workspace: string, role: AgentRole): string {
  return path.join(workspace, '.foreman', 'codex', role);
}

/** A TOML basic string (JSON escapes are valid TOML escapes for these characters). */
function tomlString(s: string): string {
  return JSON.stringify(s);
}

/**
 * Writes `<home>/config.toml` (creating `home`): the model provider `foreman` on the gateway's
 * Responses URL with the token from {@link GATEWAY_TOKEN_ENV}, no retries of its own (the gateway
 * retries upstream failures; a failed turn is retried by the step), and the MCP server `foreman`
 * on the session's MCP URL with the same token, its tools approved. A `codex.command` may still
 * override keys with `-c`. Rewritten on every step: the session's URLs change.
 */
export async function writeCodexConfig(home: string, urls: { openaiBaseUrl: string; mcpUrl: string }): Promise<string> {
  await mkdir(home, { recursive: true });
  const lines = [
    '# Written by Foreman for one role step; rewritten on each step (specs/backends.md, "codex").',
    `model_provider = ${tomlString(PROVIDER_ID)}`,
    'check_for_update_on_startup = false',
    '',
    `[model_providers.${PROVIDER_ID}]`,
    `name = "Foreman gateway"`,
    `base_url = ${tomlString(urls.openaiBaseUrl)}`,
    'wire_api = "responses"',
    `env_key = ${tomlString(GATEWAY_TOKEN_ENV)}`,
    'request_max_retries = 0',
    'stream_max_retries = 0',
    '',
    `[mcp_servers.${FOREMAN_MCP_SERVER}]`,
    `url = ${tomlString(urls.mcpUrl)}`,
    `bearer_token_env_var = ${tomlString(GATEWAY_TOKEN_ENV)}`,
    'default_tools_approval_mode = "approve"',
    '',
    // request_user_input outside Plan mode: the agent's questions become Foreman escalations.
    '[features]',
    'default_mode_request_user_input = true',
    '',
    '[shell_environment_policy]',
    `exclude = [${tomlString(GATEWAY_TOKEN_ENV)}]`,
    '',
  ];
  const file = path.join(home, 'config.toml');
  await writeFile(file, lines.join('\n'), { mode: 0o600 });
  return file;
}

/** The durable thread of a role: which codex thread its transcript continues. */
export interface ThreadState {
  threadId: string;
  /** CODEX_HOME the thread's rollout lives in. */
  codexHome: string;
}

/** The thread file next to a transcript: `<role>.jsonl` → `<role>.codex-thread.json`. */
export function threadStatePath(transcriptPath: string): string {
  return transcriptPath.replace(/\.jsonl$/, '') + '.codex-thread.json';
}

/** The thread recorded for `transcriptPath`, or null (none yet, or unreadable: a new thread starts). */
export async function readThreadState(transcriptPath: string): Promise<ThreadState | null> {
  try {
    const parsed = JSON.parse(await readFile(threadStatePath(transcriptPath), 'utf8')) as Partial<ThreadState>;
    return typeof parsed.threadId === 'string' && typeof parsed.codexHome === 'string'
      ? { threadId: parsed.threadId, codexHome: parsed.codexHome }
      : null;
  } catch {
    return null;
  }
}

/** Records the thread for `transcriptPath` (written aside and renamed, so a crash leaves the old or the new). */
export async function writeThreadState(transcriptPath: string, state: ThreadState): Promise<void> {
  const file = threadStatePath(transcriptPath);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(`${file}.tmp`, JSON.stringify(state) + '\n');
  await rename(`${file}.tmp`, file);
}
