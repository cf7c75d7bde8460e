/** Runs the real `foreman` executable (bin/foreman.js) as a subprocess. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const FOREMAN_BIN = fileURLToPath(new URL('../../bin/foreman.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Spawns `foreman ...args`; `wait()` resolves when it exits (killed after `timeoutMs`). */
export function spawnForeman(
  args: string[],
  env: NodeJS.ProcessEnv,
  cwd?: string,
): { child: ChildProcess; wait(timeoutMs?: number): Promise<CliResult>; output(): CliResult } {
  const child = spawn(process.execPath, [FOREMAN_BIN, ...args], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    output: () => ({ code: child.exitCode, stdout, stderr }),
    async wait(timeoutMs = 120_000) {
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return { code, stdout, stderr };
    },
  };
}

/** Runs `foreman ...args` to completion. */
export function runForeman(args: string[], env: NodeJS.ProcessEnv, timeoutMs?: number): Promise<CliResult> {
  return spawnForeman(args, env).wait(timeoutMs);
}
