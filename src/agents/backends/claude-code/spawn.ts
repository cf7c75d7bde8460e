/**
 * Where the `claude` executable is and how it is started: src/sandbox/spawn.ts `spawnSandboxed`
 * (the sandbox, the gateway reachable inside, the process group recorded for `killOrphans`), with
 * the executable's directory bound read-only and the role's state directory read-write.
 */
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { ForemanError } from '../../../errors.js';
import { findExecutable } from '../../../preflight.js';
import type { SandboxBind } from '../../../sandbox/bwrap.js';
import { spawnSandboxed, type SandboxedProcess, type SpawnSandboxedOptions } from '../../../sandbox/spawn.js';

/** Starts the CLI process; injectable for tests. */
export type SpawnAgent = (o: SpawnSandboxedOptions) => Promise<SandboxedProcess>;

/** The default {@link SpawnAgent}. */
export const spawnAgentProcess: SpawnAgent = spawnSandboxed;

/**
 * The absolute, symlink-free path of `command` (a path, or a name looked up on `searchPath`).
 * @throws ForemanError `agent_cli_failed` (not retryable) when it is not found or not executable.
 */
export async function resolveCommand(command: string, searchPath: string): Promise<string> {
  const found = await findExecutable(command.includes('/') ? path.resolve(command) : command, searchPath);
  if (found === null) {
    throw new ForemanError(
      'agent_cli_failed',
      `The Claude Code CLI '${command}' was not found or is not executable${command.includes('/') ? '' : ' on PATH'}; ` +
        'install @anthropic-ai/claude-code or set roles.<role>.claude_code.command (specs/backends.md).',
      { retryable: false },
    );
  }
  return realpath(found);
}

/** The binds the CLI needs: its executable's directory (read-only) and its state directory (read-write). */
export function cliBinds(executable: string, stateDir: string): SandboxBind[] {
  return [
    { host: path.dirname(executable), readOnly: true },
    { host: stateDir, readOnly: false },
  ];
}
