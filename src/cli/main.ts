/**
 * The `foreman` command line (docs/architecture.md, "CLI contract"). A thin shell: flags become the same
 * options a policy file gives, then one call into src/. Exit codes: 0 success; 2 usage, invalid
 * policy or failed preflight; 3 `run` ended needing a human; 1 anything else.
 */
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { Command, CommanderError } from 'commander';
import { deploymentOf, type Deployment } from '../deployment.js';
import { describeBackends } from '../agents/backends/config.js';
import { validatePolicyFile } from '../config/load.js';
import { startDaemon } from '../daemon.js';
import { CliError, ForemanError, hasCode, PolicyError, PreflightError } from '../errors.js';
import { deliverAnswer, runToAnswer } from '../escalation/deliver.js';
import { createLogger, type Logger } from '../logger.js';
import { redact } from '../redact.js';
import { foremanHome } from '../home.js';
import { preflight } from '../preflight.js';
import { runIssue } from '../run-issue.js';
import { createTracker } from '../trackers/index.js';
import { collectState, formatState } from '../status.js';
import { readRecordedDevServer } from '../temporal/dev-server.js';
import { ensureTemporalCli } from '../temporal/cli-binary.js';
import { describeSandboxStatus, sandboxPolicyOf, sandboxStatus } from '../sandbox/index.js';
import type { HumanReply } from '../../workflows/definitions.js';
import { addRunCommands, type RunCommandDeps } from './runs.js';
import { packageVersion } from './version.js';

/** Writes to stdout through the redactor (src/redact.ts): `run`'s summary, `status`, every line. */
function writeOut(text: string): void {
  process.stdout.write(redact(text));
}

/** Writes to stderr through the redactor. */
function writeErr(text: string): void {
  process.stderr.write(redact(text));
}

/** Policy file used when none is given (docs/architecture.md, "CLI contract"). */
export const DEFAULT_POLICY = './WORKFLOW.md';

/** Writes a Foreman error for a person: code, message, and key paths for policy errors. */
export function formatError(err: unknown): string {
  if (err instanceof PolicyError) {
    const lines = [`error[${err.code}]: ${err.message}`];
    for (const i of err.issues) if (!err.message.includes(i.path)) lines.push(`  - ${i.path}: ${i.message}`);
    return lines.join('\n');
  }
  if (err instanceof PreflightError) return err.failures.map((f) => `error[${f.code}]: ${f.message}`).join('\n');
  if (err instanceof ForemanError) return `error[${err.code}]: ${err.message}`;
  return `error: ${err instanceof Error ? err.message : String(err)}`;
}

/**
 * `foreman validate`: loads the policy and test-renders its prompt, builds the tracker adapter,
 * runs the preflight (src/preflight.ts), says which backend and model each role uses and reports
 * the sandbox. Prints warnings to stderr.
 * @throws PolicyError or PreflightError (exit 2).
 */
async function validate(policy: string, env: NodeJS.ProcessEnv): Promise<void> {
  const loaded = await validatePolicyFile(path.resolve(policy), { env });
  // Dispatch preflight (Symphony SPEC §6.3): the adapter must accept its keys and secrets.
  // Building linear/github adapters does no I/O; the local one would create its folder.
  if (loaded.policy.tracker.kind.trim().toLowerCase() !== 'local')
    createTracker(loaded.policy, { baseDir: loaded.dir, env, commentKey: CHECK_ONLY_COMMENT_KEY });
  for (const w of loaded.warnings) writeErr(`warning: ${w}\n`);
  // Preflight (src/preflight.ts): the model credentials and workspace.repo; a failure exits 2. An
  // agent CLI not found is only a warning here (`start` refuses).
  const checks = await preflight(loaded, { env, warn: (message) => writeErr(`warning: ${message}\n`) });
  writeOut(`ok: ${loaded.file}\n`);
  // Which backend and model each role uses (specs/backends.md).
  for (const line of describeBackends(loaded.policy)) writeOut(`${line}\n`);
  for (const line of checks) writeOut(`${line}\n`);
  const sandbox = sandboxPolicyOf(loaded.policy.sandbox);
  const status = await sandboxStatus(sandbox);
  if (status.available) writeOut(`${describeSandboxStatus(status, sandbox)}\n`);
  else writeErr(`warning: ${describeSandboxStatus(status, sandbox)}\n`);
}

/**
 * Bad input (policy, usage, an unusable issue file, a bad FOREMAN_WORKER_ID, `--worker-only` without
 * TEMPORAL_ADDRESS) and a failed preflight (src/preflight.ts, or no sandbox) exit 2; an interrupt 130;
 * everything else 1.
 */
function exitCodeOf(err: unknown): number {
  if (hasCode(err, 'aborted')) return 130;
  if (err instanceof PolicyError || err instanceof CliError || err instanceof PreflightError) return 2;
  if (hasCode(err, 'issue_file_invalid') || hasCode(err, 'sandbox_unavailable')) return 2;
  if (hasCode(err, 'worker_id_invalid') || hasCode(err, 'temporal_address_missing')) return 2;
  return 1;
}

/** Stops `stop` on the first SIGINT/SIGTERM; a second one exits at once; a watchdog bounds the drain. */
function onSignals(stop: () => Promise<void>, log: Logger): () => void {
  let count = 0;
  const handler = (sig: NodeJS.Signals) => {
    count++;
    if (count > 1) {
      log.warn({ sig }, 'second signal: exiting now');
      process.exit(130);
    }
    log.info({ sig }, 'shutting down (send again to force)');
    setTimeout(() => process.exit(1), 30_000).unref();
    void stop();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

/**
 * The comment key `foreman validate` builds the tracker with: the adapter is built only to check
 * its keys and posts nothing, so validation does not create the installation's key in FOREMAN_HOME.
 */
const CHECK_ONLY_COMMENT_KEY = '0'.repeat(64);

/** The `foreman` program before its commands: name, description, `--version`, errors thrown not exited. */
function baseProgram(): Command {
  return new Command()
    .name('foreman')
    .description("Works a team's issue backlog with coding agents on durable Temporal workflows.")
    .version(packageVersion(), '-V, --version', "print Foreman's version")
    .exitOverride()
    .showHelpAfterError();
}

/** Runs the CLI with `argv` (as in `process.argv`) and resolves to the exit code. */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const log = createLogger(env);
  let code = 0;
  const program = baseProgram();

  program
    .command('start')
    .description(
      'Run the daemon: worker, dispatcher and a local Temporal dev server unless TEMPORAL_ADDRESS is set (--worker-only: a worker only).',
    )
    .argument('[policy]', 'policy spec file', DEFAULT_POLICY)
    .option('--port <n>', 'HTTP port for the API and dashboard (overrides server.port; 0 = any free port)', (v) =>
      parsePort(v),
    )
    .option('--host <addr>', 'HTTP bind address (overrides server.host; default 127.0.0.1)')
    .option('--no-ui', 'start the local Temporal dev server without its Web UI')
    .option(
      '--worker-only',
      'run one more worker only (its own workspace queue; no dispatcher, schedules, HTTP server or dev server): needs TEMPORAL_ADDRESS',
    )
    .action(async (policy: string, flags: { port?: number; host?: string; ui: boolean; workerOnly?: boolean }) => {
      if (flags.workerOnly && (flags.port !== undefined || flags.host))
        throw new CliError('usage', '--worker-only serves no HTTP: drop --port and --host.');
      const daemon = await startDaemon({
        policyFile: path.resolve(policy),
        ...(flags.port !== undefined ? { port: flags.port } : {}),
        ...(flags.host ? { host: flags.host } : {}),
        env,
        log,
        ui: flags.ui,
        workerOnly: flags.workerOnly === true,
      });
      const off = onSignals(() => daemon.stop(), log);
      try {
        await daemon.done;
      } finally {
        off();
        await daemon.stop();
      }
    });

  program
    .command('run')
    .description('Work one issue through the IssueWorkflow in the foreground and print a JSON summary.')
    .argument('<issue>', 'issue identifier, e.g. DEMO-1')
    .argument('[policy]', 'policy spec file', DEFAULT_POLICY)
    .option('--again', 'run an issue whose last run completed once more')
    .option('--no-ui', 'start the local Temporal dev server (if this starts one) without its Web UI')
    .action(async (identifier: string, policy: string, flags: { again?: boolean; ui: boolean }) => {
      const abort = new AbortController();
      const off = onSignals(async () => abort.abort(), log);
      try {
        const summary = await runIssue({
          identifier,
          policyFile: path.resolve(policy),
          env,
          log,
          signal: abort.signal,
          again: flags.again === true,
          ui: flags.ui,
        });
        writeOut(`${JSON.stringify(summary, null, 2)}\n`);
        code = summary.outcome === 'completed' ? 0 : 3;
      } finally {
        off();
      }
    });

  program
    .command('validate')
    .description('Check a policy spec file: exit 0 if valid, else print each error with its key path and exit 2.')
    .argument('[policy]', 'policy spec file', DEFAULT_POLICY)
    .action((policy: string) => validate(policy, env));

  program
    .command('status')
    .description('List running issues (phase, round, turns, tokens) and recently finished runs.')
    .option('--json', 'print the state as JSON (the /api/v1/state shape)')
    .option('--policy <file>', "only this policy's deployment (default: ./WORKFLOW.md if there, else all)")
    .option('--all', 'show the runs of every deployment on the namespace')
    .action(async (flags: { json?: boolean; policy?: string; all?: boolean }) => {
      const deployment = flags.all ? null : await deploymentOfFile(flags.policy, env);
      const temporalUiUrl = await temporalUi(env);
      const snapshot = await withTemporalClient(env, (client) => collectState(client, deployment, { temporalUiUrl }));
      writeOut(flags.json ? `${JSON.stringify(snapshot, null, 2)}\n` : `${formatState(snapshot)}\n`);
    });

  program
    .command('answer')
    .description("Deliver a human's answer to the issue's waiting escalation; the work resumes.")
    .argument('<issue>', 'issue identifier, e.g. DEMO-1')
    .argument('<text...>', 'the answer')
    .option('--policy <file>', "the run of this policy's deployment (default: ./WORKFLOW.md if there)")
    .action(async (identifier: string, words: string[], flags: { policy?: string }) => {
      const question = await answerIssue(identifier, words.join(' ').trim(), flags.policy, env);
      writeOut(`answered ${identifier}: ${question}\n`);
    });

  addRunCommands(program, runCommandDeps(env));

  program
    .command('temporal-install')
    .description('Find the Temporal CLI, or build it with Go into the user cache; print its path.')
    .action(async () => {
      const bin = await ensureTemporalCli({ env, log: (m) => writeErr(`${m}\n`) });
      writeOut(`${bin}\n`);
    });

  try {
    await program.parseAsync(argv);
    return code;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    writeErr(`${formatError(err)}\n`);
    return exitCodeOf(err);
  } finally {
    log.flush();
  }
}

/** What `ls`, `cancel`, `retry` and `logs` (src/cli/runs.ts) share with `status` and `answer`. */
function runCommandDeps(env: NodeJS.ProcessEnv): RunCommandDeps {
  return {
    env,
    out: writeOut,
    withClient: (fn) => withTemporalClient(env, fn),
    deployment: (file) => deploymentOfFile(file, env),
    runOf: runToAnswer,
    answer: async (client, deployment, identifier, text) =>
      (await deliverAnswer(client, deployment, identifier, operatorReply(text))).line,
  };
}

/** The Temporal Web UI: TEMPORAL_UI_URL, else the one the recorded dev server serves; null when none. */
async function temporalUi(env: NodeJS.ProcessEnv): Promise<string | null> {
  const set = env.TEMPORAL_UI_URL?.trim();
  if (set) return set;
  if (env.TEMPORAL_ADDRESS?.trim()) return null;
  return (await readRecordedDevServer(foremanHome(env)))?.uiUrl ?? null;
}

/**
 * Connects to the Temporal server the daemon uses: `TEMPORAL_ADDRESS`, else the dev server recorded
 * under FOREMAN_HOME by `foreman start`.
 * @throws CliError `temporal_not_found` when neither is there.
 */
async function withTemporalClient<T>(env: NodeJS.ProcessEnv, fn: (client: Client) => Promise<T>): Promise<T> {
  let address = env.TEMPORAL_ADDRESS?.trim();
  if (!address) {
    const recorded = await readRecordedDevServer(foremanHome(env));
    if (!recorded) {
      throw new CliError(
        'temporal_not_found',
        'No Temporal server to ask: start the daemon (`foreman start`) or set TEMPORAL_ADDRESS.',
      );
    }
    address = recorded.address;
  }
  const connection = await Connection.connect({ address });
  try {
    return await fn(new Client({ connection, namespace: env.TEMPORAL_NAMESPACE?.trim() || 'default' }));
  } finally {
    await connection.close();
  }
}

/**
 * `foreman answer`: delivers `text` to the run of `identifier` in the deployment of `policyFile`.
 * @throws CliError `usage` (empty text), and what deploymentOfFile and deliverAnswer (src/escalation/deliver.ts) throw.
 */
async function answerIssue(identifier: string, text: string, policyFile: string | undefined, env: NodeJS.ProcessEnv) {
  if (!text) throw new CliError('usage', 'The answer is empty.');
  const deployment = await deploymentOfFile(policyFile, env);
  return withTemporalClient(
    env,
    async (client) => (await deliverAnswer(client, deployment, identifier, operatorReply(text))).line,
  );
}

/** The operator's reply from the CLI: it may approve (specs/escalations.md, "Approval"). */
function operatorReply(text: string): HumanReply {
  return { text, author: os.userInfo().username, source: 'cli', mayApprove: true };
}

/**
 * The deployment (src/deployment.ts) of the policy file `file` (Default: `./WORKFLOW.md`): whose
 * runs `status` shows and `answer` reaches. Null when no file was named and there is no
 * `./WORKFLOW.md`: every deployment.
 * @throws PolicyError when the policy cannot be read or is invalid.
 */
async function deploymentOfFile(file: string | undefined, env: NodeJS.ProcessEnv): Promise<Deployment | null> {
  try {
    return deploymentOf(await validatePolicyFile(path.resolve(file ?? DEFAULT_POLICY), { env }));
  } catch (err) {
    if (file === undefined && hasCode(err, 'missing_workflow_file')) return null;
    throw err;
  }
}

function parsePort(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new CliError('usage', `--port must be an integer 0..65535, got "${v}"`);
  return n;
}
