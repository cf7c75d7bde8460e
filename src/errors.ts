/**
 * Foreman's error model. Every error Foreman throws on purpose is a `ForemanError` with a stable
 * `code` (snake_case, part of the operator contract) and a `retryable` flag. Every error class
 * lives in this file, and each class's codes are a closed union ({@link ERROR_CODES}): a new code
 * is added here and to the table in specs/error-codes.md (a unit test keeps the two equal).
 *
 * Error class names are part of the retry contract: when an activity throws, Temporal turns the
 * error into an `ApplicationFailure` whose `type` is the class name; the activity interceptor
 * (activities/interceptor.ts) maps `retryable: false` to a non-retryable failure. `…Error` stays
 * in Node; the workflow only sees the failure's `type` and `code` (and, for a ModelError, the
 * rate limits in `details[1]`).
 */
import type { RateLimits } from './agents/rate-limits.js';

/** Every error code, by the class that throws it. specs/error-codes.md says what each means. */
export const ERROR_CODES = {
  ForemanError: [
    'agent_aborted',
    'agent_stalled',
    'agent_turn_timeout',
    'agent_cli_failed',
    'agent_turn_failed',
    'agent_protocol_error',
    'transcript_invalid',
    'webhook_signal_failed',
    'workspace_missing',
    'metrics_record_invalid',
    'backend_unavailable',
  ],
  PolicyError: [
    'missing_workflow_file',
    'workflow_parse_error',
    'workflow_front_matter_not_a_map',
    'workflow_empty',
    'policy_invalid',
    'model_unpriced',
    'invalid_tracker_config',
    'tracker_kind_unsupported',
    'tracker_token_missing',
    'tracker_repo_invalid',
    'tracker_endpoint_invalid',
    'schedule_issue_unsupported',
    'template_parse_error',
    'template_render_error',
    'server_token_missing',
  ],
  TrackerError: [
    'tracker_not_found',
    'tracker_unauthorized',
    'tracker_rate_limited',
    'tracker_request_failed',
    'tracker_payload_invalid',
    'tracker_state_unknown',
    'tracker_team_unknown',
    'issue_not_found',
    'issue_file_invalid',
    'issue_file_unreadable',
    'comment_key_invalid',
  ],
  WorkspaceError: [
    'workspace_outside_root',
    'workspace_not_git',
    'base_branch_missing',
    'base_ref_missing',
    'git_failed',
    'push_rejected',
    'git_unsafe',
    'hook_failed',
    'hook_timeout',
    'shell_spawn_failed',
    'sandbox_unavailable',
  ],
  ModelError: [
    'model_unreachable',
    'model_overloaded',
    'model_rate_limited',
    'model_stalled',
    'model_bad_response',
    'model_unauthorized',
    'model_bad_request',
  ],
  ToolError: [
    'tool_input_invalid',
    'tool_unknown',
    'path_outside_workspace',
    'path_forbidden',
    'file_not_found',
    'not_a_file',
    'file_hardlinked',
    'not_a_directory',
    'file_too_large',
    'binary_file',
    'edit_not_found',
    'edit_not_unique',
    'command_not_allowed',
    'search_timeout',
  ],
  ScmError: [
    'scm_unauthorized',
    'scm_not_found',
    'scm_rate_limited',
    'scm_request_failed',
    'scm_pr_rejected',
    'scm_payload_invalid',
  ],
  PreflightError: ['model_credentials_missing', 'workspace_repo_unreachable', 'agent_command_missing'],
  TemporalServerError: [
    'temporal_cli_missing',
    'temporal_server_failed',
    'search_attribute_missing',
    'worker_id_invalid',
    'temporal_address_missing',
  ],
  CliError: [
    'usage',
    'daemon_running',
    'aborted',
    'issue_not_found',
    'issue_not_running',
    'not_waiting',
    'escalation_changed',
    'answer_not_on_offer',
    'temporal_not_found',
    'worker_stopped',
    'already_completed',
  ],
} as const satisfies Record<string, readonly string[]>;

/** The name of a Foreman error class. */
export type ErrorClassName = keyof typeof ERROR_CODES;
/** The codes one error class may carry. */
export type ErrorCodeOf<C extends ErrorClassName> = (typeof ERROR_CODES)[C][number];
/** Any Foreman error code. */
export type ErrorCode = ErrorCodeOf<ErrorClassName>;
export type PolicyErrorCode = ErrorCodeOf<'PolicyError'>;
export type TrackerErrorCode = ErrorCodeOf<'TrackerError'>;
export type WorkspaceErrorCode = ErrorCodeOf<'WorkspaceError'>;
export type ModelErrorCode = ErrorCodeOf<'ModelError'>;
export type ToolErrorCode = ErrorCodeOf<'ToolError'>;
export type ScmErrorCode = ErrorCodeOf<'ScmError'>;
export type TemporalServerErrorCode = ErrorCodeOf<'TemporalServerError'>;
export type PreflightErrorCode = ErrorCodeOf<'PreflightError'>;
export type CliErrorCode = ErrorCodeOf<'CliError'>;

/** Options shared by every Foreman error. */
export interface ForemanErrorOptions {
  /** The underlying error, kept for logs and `cause` chains. */
  cause?: unknown;
  /** Whether a retry of the same step may succeed. (Default: per class) */
  retryable?: boolean;
  /** How long the other side asked to wait before a retry, ms (`retry-after`), when it said. */
  retryAfterMs?: number;
}

/** Base class: a stable `code`, a message that says what to do, and whether a retry may help. */
export class ForemanError extends Error {
  /** Stable machine-readable code, e.g. `policy_invalid`, `workspace_outside_root`. */
  readonly code: ErrorCode;
  /** Whether retrying the step that threw may succeed. */
  readonly retryable: boolean;
  /** The wait the other side asked for before a retry, ms; undefined when it did not say. */
  readonly retryAfterMs: number | undefined;

  constructor(code: ErrorCode, message: string, options: ForemanErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** A Foreman error whose code is one of the union `C`; not retryable unless the thrower says so. */
class CodedError<C extends ErrorCode> extends ForemanError {
  declare readonly code: C;

  constructor(code: C, message: string, options: ForemanErrorOptions = {}) {
    super(code, message, options);
  }
}

/** Retryable unless the thrower says otherwise (`{ retryable: false }` for a permanent code). */
class TransientError<C extends ErrorCode> extends CodedError<C> {
  constructor(code: C, message: string, options: ForemanErrorOptions = {}) {
    super(code, message, { retryable: true, ...options });
  }
}

/** Never retryable: the input must change. */
class PermanentError<C extends ErrorCode> extends CodedError<C> {
  constructor(code: C, message: string, options: ForemanErrorOptions = {}) {
    super(code, message, { ...options, retryable: false });
  }
}

/**
 * The policy file (WORKFLOW.md) is missing, unparsable or invalid. Codes follow Symphony SPEC
 * §5.5: `missing_workflow_file`, `workflow_parse_error`, `workflow_front_matter_not_a_map`,
 * `policy_invalid` (schema errors; `issues` carries each key path), `template_parse_error`,
 * `template_render_error`. Never retryable: the file must be fixed.
 */
export class PolicyError extends PermanentError<PolicyErrorCode> {
  /** One entry per problem: the key path (e.g. `agent.max_turns`) and what is wrong with it. */
  readonly issues: { path: string; message: string }[];
  /** The policy file the error is about, when known. */
  readonly file: string | undefined;

  constructor(
    code: PolicyErrorCode,
    message: string,
    options: ForemanErrorOptions & { issues?: { path: string; message: string }[]; file?: string } = {},
  ) {
    super(code, message, options);
    this.issues = options.issues ?? [];
    this.file = options.file;
  }
}

/**
 * A tracker read or write failed. Codes follow Symphony SPEC §11.4 where they apply
 * (`tracker_not_found`, `tracker_unauthorized`, `tracker_rate_limited`, `tracker_request_failed`,
 * `tracker_payload_invalid`, `issue_file_invalid`). Retryable unless the code says otherwise.
 */
export class TrackerError extends TransientError<TrackerErrorCode> {}

/**
 * A workspace could not be prepared or used: `workspace_outside_root` (permanent),
 * `hook_failed`, `hook_timeout`, `git_failed` (transient). `push_rejected` (a non-fast-forward
 * push) is thrown as permanent: retrying the same push cannot succeed.
 */
export class WorkspaceError extends TransientError<WorkspaceErrorCode> {}

/**
 * The model endpoint failed: `model_unreachable`, `model_overloaded`, `model_rate_limited`
 * (transient) or `model_unauthorized`, `model_bad_request` (permanent).
 */
export class ModelError extends TransientError<ModelErrorCode> {
  /** The latest rate-limit headers the endpoint sent before failing (a 429 carries them); undefined: none. */
  rateLimits: RateLimits | undefined;
}

/**
 * A check `foreman validate` and `foreman start` make before any work (src/preflight.ts) failed:
 * `model_credentials_missing`, `workspace_repo_unreachable`. `failures` has every failed check (the
 * code is the first one's); the message has one line per failure, each naming the fix. Never
 * retryable: the setup must be fixed. `foreman` exits 2 on it.
 */
export class PreflightError extends PermanentError<PreflightErrorCode> {
  /** Every failed check, in the order they ran. */
  readonly failures: { code: PreflightErrorCode; message: string }[];

  constructor(failures: { code: PreflightErrorCode; message: string }[]) {
    const [first] = failures;
    if (!first) throw new TypeError('PreflightError needs at least one failure');
    super(first.code, failures.map((f) => `${f.code}: ${f.message}`).join('\n'));
    this.failures = failures;
  }
}

/**
 * The Temporal CLI could not be found, built or started (`temporal_cli_missing`, `temporal_server_failed`),
 * or the server lacks a search attribute Foreman needs (`search_attribute_missing`); a worker's id
 * cannot name its workspace task queue (`worker_id_invalid`); a worker-only process has no Temporal
 * server to join (`temporal_address_missing`).
 */
export class TemporalServerError extends CodedError<TemporalServerErrorCode> {}

/** Bad command-line usage or a request the CLI cannot serve: `usage`, `issue_not_found`, … */
export class CliError extends CodedError<CliErrorCode> {}

/**
 * A tool call that cannot be carried out. The harness turns it into a `tool_result` with
 * `is_error: true` and the run goes on. Codes: `tool_input_invalid`, `tool_unknown`,
 * `path_outside_workspace`, `path_forbidden` (writes into `.git/`), `file_not_found`,
 * `not_a_file` (a directory or special file), `file_hardlinked` (a write to a file with more than
 * one hard link), `not_a_directory`, `file_too_large`, `binary_file`, `edit_not_found`,
 * `edit_not_unique`, `command_not_allowed`, `search_timeout`. Never retryable: the model must
 * change the call.
 */
export class ToolError extends PermanentError<ToolErrorCode> {}

/**
 * A pull-request or CI call failed. Codes: `scm_unauthorized` (401/403, permanent),
 * `scm_not_found` (repository/PR missing, permanent), `scm_rate_limited` (retryable),
 * `scm_request_failed` (5xx/transport after retries: retryable; other 4xx: permanent),
 * `scm_pr_rejected` (GitHub refused to create/update the PR with a 4xx, e.g. 422 "No commits
 * between main and foreman/app-42" or an unknown base branch; permanent),
 * `scm_payload_invalid` (malformed GitHub payload, permanent). Retryable unless the code says
 * otherwise.
 */
export class ScmError extends TransientError<ScmErrorCode> {}

/** Returns true when `err` is a Foreman error with the given code. */
export function hasCode(err: unknown, code: ErrorCode): boolean {
  return err instanceof ForemanError && err.code === code;
}
