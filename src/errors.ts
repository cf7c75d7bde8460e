/**
 * Foreman's error model. Every error Foreman throws on purpose is a `ForemanError` with a stable
 * `code` (snake_case, part of the operator contract) and a `retryable` flag.
 *
 * Error class names are part of the retry contract: when an activity throws, Temporal turns the
 * error into an `ApplicationFailure` whose `type` is the class name; activities/index.ts maps
 * `retryable: false` to a non-retryable failure. `…Error` stays in Node; the workflow only sees
 * the failure's `type` and `code`.
 */

/** Options shared by every Foreman error. */
export interface ForemanErrorOptions {
  /** The underlying error, kept for logs and `cause` chains. */
  cause?: unknown;
  /** Whether a retry of the same step may succeed. (Default: per class) */
  retryable?: boolean;
}

/** Base class: a stable `code`, a message that says what to do, and whether a retry may help. */
export class ForemanError extends Error {
  /** Stable machine-readable code, e.g. `policy_invalid`, `workspace_outside_root`. */
  readonly code: string;
  /** Whether retrying the step that threw may succeed. */
  readonly retryable: boolean;

  constructor(code: string, message: string, options: ForemanErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
}

/**
 * The policy file (WORKFLOW.md) is missing, unparsable or invalid. Codes follow Symphony SPEC
 * §5.5: `missing_workflow_file`, `workflow_parse_error`, `workflow_front_matter_not_a_map`,
 * `policy_invalid` (schema errors; `issues` carries each key path), `template_parse_error`,
 * `template_render_error`. Never retryable: the file must be fixed.
 */
export class PolicyError extends ForemanError {
  /** One entry per problem: the key path (e.g. `agent.max_turns`) and what is wrong with it. */
  readonly issues: { path: string; message: string }[];
  /** The policy file the error is about, when known. */
  readonly file: string | undefined;

  constructor(
    code: string,
    message: string,
    options: ForemanErrorOptions & { issues?: { path: string; message: string }[]; file?: string } = {},
  ) {
    super(code, message, { ...options, retryable: false });
    this.issues = options.issues ?? [];
    this.file = options.file;
  }
}

/**
 * A tracker read or write failed. Codes follow Symphony SPEC §11.4 where they apply
 * (`tracker_not_found`, `tracker_unauthorized`, `tracker_rate_limited`, `tracker_request_failed`,
 * `tracker_payload_invalid`, `issue_file_invalid`). Retryable unless the code says otherwise.
 */
export class TrackerError extends ForemanError {
  constructor(code: string, message: string, options: ForemanErrorOptions = {}) {
    super(code, message, { retryable: true, ...options });
  }
}

/**
 * A workspace could not be prepared or used: `workspace_outside_root` (permanent),
 * `hook_failed`, `hook_timeout`, `git_failed`, `push_rejected` (transient).
 */
export class WorkspaceError extends ForemanError {
  constructor(code: string, message: string, options: ForemanErrorOptions = {}) {
    super(code, message, { retryable: true, ...options });
  }
}

/**
 * The model endpoint failed: `model_unreachable`, `model_overloaded`, `model_rate_limited`
 * (transient) or `model_unauthorized`, `model_bad_request` (permanent).
 */
export class ModelError extends ForemanError {
  constructor(code: string, message: string, options: ForemanErrorOptions = {}) {
    super(code, message, { retryable: true, ...options });
  }
}

/** The Temporal CLI could not be found, built or started: `temporal_cli_missing`, `temporal_server_failed`. */
export class TemporalServerError extends ForemanError {}

/** Bad command-line usage or a request the CLI cannot serve: `usage`, `issue_not_found`. */
export class CliError extends ForemanError {}

/** Returns true when `err` is a Foreman error with the given code. */
export function hasCode(err: unknown, code: string): boolean {
  return err instanceof ForemanError && err.code === code;
}
