/**
 * Preflight: the checks `foreman validate` and `foreman start` make before any work, so a setup
 * that would fail every issue is refused at once with the fix named, instead of "Foreman is
 * running" and one escalation per issue later (specs/policy.md, "Preflight"). Here: the model
 * credentials, `workspace.repo` and the agent CLIs' executables. The tracker's keys and secrets (the adapter's constructor) and
 * the sandbox (src/sandbox/) are checked by their own modules.
 */
import { constants } from 'node:fs';
import { access, mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { backendExecutable, backendOf, ROLES, roleEnabled } from './agents/backends/config.js';
import { modelCredentials } from './agents/run-role.js';
import type { LoadedPolicy } from './config/load.js';
import { ForemanError, PreflightError, type PreflightErrorCode } from './errors.js';
import { redactUrls } from './redact.js';
import { gitAuthFor, runGit } from './workspace/git.js';

/** How long `git ls-remote` of `workspace.repo` may take, ms. */
export const REPO_PROBE_TIMEOUT_MS = 20_000;

/** Options of {@link preflight}. */
export interface PreflightOptions {
  /** Environment for ANTHROPIC_*, GITHUB_TOKEN, SSH_AUTH_SOCK. (Default: `process.env`) */
  env?: NodeJS.ProcessEnv;
  /** Time limit of the repository probe, ms. (Default: {@link REPO_PROBE_TIMEOUT_MS}) */
  repoTimeoutMs?: number;
  /**
   * When given, an agent CLI that is not found (`agent_command_missing`) is reported here instead
   * of failing: `foreman validate` warns, `foreman start` refuses. (Default: none = it fails)
   */
  warn?: (message: string) => void;
}

type Check = { ok: string } | { code: PreflightErrorCode; message: string };

/**
 * Runs every check; resolves to one line per passed check (for the person or the log).
 * @throws PreflightError listing every failed check (`model_credentials_missing`,
 *   `workspace_repo_unreachable`, `agent_command_missing` unless `opts.warn`), one line each naming the fix.
 */
export async function preflight(loaded: LoadedPolicy, opts: PreflightOptions = {}): Promise<string[]> {
  const env = opts.env ?? process.env;
  const commands = await checkAgentCommands(loaded, env);
  const checks = await Promise.all([
    checkModel(loaded, env),
    checkRepo(loaded, env, opts.repoTimeoutMs ?? REPO_PROBE_TIMEOUT_MS),
  ]);
  for (const c of commands) {
    if ('code' in c && opts.warn) opts.warn(c.message);
    else checks.push(c);
  }
  const failures = checks.flatMap((c) => ('code' in c ? [c] : []));
  if (failures.length) throw new PreflightError(failures);
  return checks.flatMap((c) => ('ok' in c ? [c.ok] : []));
}

/** A key, or a loopback endpoint (which needs none); a base URL must be http(s). */
function checkModel(loaded: LoadedPolicy, env: NodeJS.ProcessEnv): Check {
  const creds = modelCredentials(loaded.policy, env);
  const base = creds.baseURL === undefined ? undefined : redactUrls(creds.baseURL);
  if (base !== undefined && !/^https?:\/\/[^/]/i.test(creds.baseURL!)) {
    return {
      code: 'model_credentials_missing',
      message: `The model endpoint "${base}" (model.base_url, else ANTHROPIC_BASE_URL) is not an http(s) URL. Fix it, or unset it to use api.anthropic.com.`,
    };
  }
  if (creds.keySet) return { ok: `model: ${base ?? 'api.anthropic.com'}, key set` };
  if (creds.local) return { ok: `model: local endpoint ${base}, no key needed` };
  return {
    code: 'model_credentials_missing',
    message:
      `No model API key for ${base ?? 'api.anthropic.com'}. Set ANTHROPIC_API_KEY (or model.api_key: $VAR in the policy), ` +
      'or point ANTHROPIC_BASE_URL / model.base_url at a local endpoint on loopback (http://127.0.0.1:PORT), which needs no key.',
  };
}

/** `git ls-remote` of `workspace.repo` through Foreman's git wrapper, with its credentials and a time limit. */
async function checkRepo(loaded: LoadedPolicy, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Check> {
  const url = loaded.policy.workspace.repo;
  if (url === undefined) return { ok: 'workspace.repo: not set (hooks.after_create makes the checkout)' };
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'foreman-preflight-'));
  try {
    const place = { workTree: scratch, stateDir: scratch, remote: loaded.policy.scm.remote, url };
    await runGit(place, ['ls-remote', '--heads', '--', url], {
      cwd: scratch,
      network: true,
      auth: gitAuthFor(loaded.policy, env),
      timeoutMs,
    });
    return { ok: `workspace.repo: ${redactUrls(url)} is a reachable git repository` };
  } catch (err) {
    const why = (err instanceof ForemanError ? err.message : String(err)).replace(/\s+/g, ' ').trim();
    return {
      code: 'workspace_repo_unreachable',
      message:
        `workspace.repo ${redactUrls(url)} is not a git repository Foreman can reach (${why}). Fix workspace.repo, ` +
        'the credentials (GITHUB_TOKEN or scm.github.token for https, SSH_AUTH_SOCK for ssh) or the network.',
    };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * The executable of each enabled role's CLI backend (src/agents/backends/config.ts
 * `backendExecutable`) is on `env.PATH` or is an executable file. A relative path with a `/` in a
 * `codex.command` is relative to the workspace (Symphony runs it there) and is not checked.
 */
async function checkAgentCommands(loaded: LoadedPolicy, env: NodeJS.ProcessEnv): Promise<Check[]> {
  const checks: Check[] = [];
  for (const role of ROLES) {
    if (!roleEnabled(loaded.policy, role)) continue;
    const settings = backendOf(loaded.policy, role);
    const exe = backendExecutable(settings);
    if (exe === null) continue;
    if (settings.name === 'codex' && exe.includes('/') && !path.isAbsolute(exe)) {
      checks.push({ ok: `${role}: ${settings.name} command ${exe} is relative to the workspace (not checked)` });
      continue;
    }
    const found = await findExecutable(exe, env.PATH ?? '');
    if (found !== null) {
      checks.push({ ok: `${role}: ${settings.name} command ${exe} found (${found})` });
      continue;
    }
    const key =
      settings.name === 'claude-code'
        ? `roles.${role}.claude_code.command`
        : loaded.policy.roles[role].codex.command !== undefined
          ? `roles.${role}.codex.command`
          : 'codex.command';
    const where = exe.includes('/') ? 'is not an executable file' : 'is not on PATH';
    const pkg = settings.name === 'claude-code' ? '@anthropic-ai/claude-code' : '@openai/codex';
    checks.push({
      code: 'agent_command_missing',
      message: `${role} runs on ${settings.name}, but its command "${exe}" (${key}) ${where}. Install the CLI (npm package ${pkg}) or set ${key} to its path.`,
    });
  }
  return checks;
}

/**
 * The path of `command`: itself when it has a `/` and is an executable file, else the first
 * executable file of that name in the `searchPath` directories (`:`-separated); null when none.
 */
export async function findExecutable(command: string, searchPath: string): Promise<string | null> {
  const candidates = command.includes('/')
    ? [command]
    : searchPath
        .split(':')
        .filter((dir) => dir !== '')
        .map((dir) => path.join(dir, command));
  for (const file of candidates) {
    try {
      await access(file, constants.X_OK);
      if ((await stat(file)).isFile()) return file;
    } catch {
      // not there or not executable: try the next
    }
  }
  return null;
}
