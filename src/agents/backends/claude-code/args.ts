/**
 * The `claude` command line and environment of one role step (specs/backends.md, "claude-code"):
 * print mode with stream-JSON input and output, the role's tools, Foreman's MCP server, the model
 * gateway as the only endpoint and the session to start or resume. Pure: builds argv and env, runs
 * nothing (./index.ts does).
 */
import type { AgentRole } from '../../usage.js';

/** Name of Foreman's MCP server in the CLI's config; the CLI calls its tools `mcp__foreman__<tool>`. */
export const MCP_SERVER_NAME = 'foreman';

/** Foreman's outcome tools each role gets over MCP (the same as the built-in roles, src/agents/tools.ts). */
export const OUTCOME_TOOLS = {
  implementer: ['finish', 'escalate'],
  reviewer: ['submit_review'],
  qa: ['finish'],
} as const satisfies Record<AgentRole, readonly string[]>;

/** The CLI's name for one of Foreman's MCP tools. */
export function mcpToolName(tool: string): string {
  return `mcp__${MCP_SERVER_NAME}__${tool}`;
}

/**
 * Claude Code's built-in tools offered to each role (`--tools`). The reviewer reads and runs
 * read-only git commands only, as the built-in reviewer does
 * (docs/architecture.md, "Agent tools and roles"); sub-agents, web, cron and worktree tools are
 * left out of every role.
 */
export const ROLE_TOOLS = {
  implementer: ['Bash', 'Read', 'Edit', 'Write'],
  reviewer: ['Bash', 'Read'],
  qa: ['Bash', 'Read', 'Edit', 'Write'],
} as const satisfies Record<AgentRole, readonly string[]>;

/** The reviewer's allowed Bash commands (Claude Code permission rules), mirroring `isReadOnlyGitCommand`. */
export const REVIEWER_BASH_RULES = ['git diff', 'git log', 'git show', 'git status'].map((c) => `Bash(${c}:*)`);

/** What one invocation of the CLI needs. */
export interface ClaudeInvocation {
  role: AgentRole;
  model: string;
  /** Foreman's system prompt of the role, appended to Claude Code's own. */
  system: string;
  /** `--max-turns`. */
  maxTurns: number;
  /** The session's MCP URL (streamable HTTP) and the bearer token it wants. */
  mcpUrl: string;
  token: string;
  /** Start this session id (`--session-id`) or resume it (`--resume`). */
  session: { id: string; resume: boolean };
  /**
   * True when the CLI runs inside the sandbox: it may then bypass its own permission prompts
   * (`bypassPermissions`); on the host it runs with `dontAsk` and an explicit allowlist.
   */
  sandboxed: boolean;
  /** `claude_code.extra_args`, appended last. */
  extraArgs: readonly string[];
}

/** The MCP config (`--mcp-config`) naming Foreman's server for this session, with its token header. */
export function mcpConfig(mcpUrl: string, token: string): string {
  return JSON.stringify({
    mcpServers: { [MCP_SERVER_NAME]: { type: 'http', url: mcpUrl, headers: { Authorization: `Bearer ${token}` } } },
  });
}

/**
 * The CLI's arguments (without the executable). Implementer and QA: the role's tools, with
 * `bypassPermissions` inside the sandbox (the sandbox is the boundary) and `dontAsk` plus an
 * allowlist on the host; the reviewer: always `dontAsk` with Read, the read-only git commands and
 * `submit_review` allowed, and Write/Edit denied outright. Project and local settings files (the
 * repository's `.claude/`, agent-writable) are not loaded; only Foreman's MCP server is.
 */
export function claudeArgs(o: ClaudeInvocation): string[] {
  const outcome = OUTCOME_TOOLS[o.role].map(mcpToolName);
  const tools = ROLE_TOOLS[o.role];
  const permissions =
    o.role === 'reviewer'
      ? [
          '--permission-mode',
          'dontAsk',
          '--allowedTools',
          ['Read', ...REVIEWER_BASH_RULES, ...outcome].join(','),
          '--disallowedTools',
          'Write,Edit,NotebookEdit',
        ]
      : o.sandboxed
        ? ['--permission-mode', 'bypassPermissions']
        : ['--permission-mode', 'dontAsk', '--allowedTools', [...tools, ...outcome].join(',')];
  return [
    '-p',
    '--input-format',
    'stream-json',
    '--output-format',
    'stream-json',
    '--verbose',
    '--model',
    o.model,
    '--append-system-prompt',
    o.system,
    '--max-turns',
    String(o.maxTurns),
    '--tools',
    tools.join(','),
    ...permissions,
    '--mcp-config',
    mcpConfig(o.mcpUrl, o.token),
    '--strict-mcp-config',
    '--setting-sources',
    'user',
    ...(o.session.resume ? ['--resume', o.session.id] : ['--session-id', o.session.id]),
    ...o.extraArgs,
  ];
}

/** What the CLI's environment is built from. */
export interface ClaudeEnvInput {
  /** The step's scrubbed environment (no secrets). */
  base: Record<string, string>;
  /** The gateway's Anthropic base URL and the session token (never a real key). */
  anthropicBaseUrl: string;
  token: string;
  /** The role's own state directory: HOME and CLAUDE_CONFIG_DIR (sessions live here, for `--resume`). */
  configDir: string;
  /** `max_tokens` per model call. */
  maxTokens: number;
  sandboxed: boolean;
}

/**
 * The CLI's environment: the scrubbed base, the gateway as its only endpoint with the per-session
 * token as its key, its own HOME, and auto-update, telemetry, error reports and every other
 * non-essential request off. MCP tool search is off so Foreman's tools are offered directly.
 * `IS_SANDBOX=1` only inside the sandbox (it lets `bypassPermissions` run as uid 0 there).
 */
export function claudeEnv(o: ClaudeEnvInput): Record<string, string> {
  return {
    ...o.base,
    HOME: o.configDir,
    CLAUDE_CONFIG_DIR: o.configDir,
    ANTHROPIC_BASE_URL: o.anthropicBaseUrl,
    ANTHROPIC_API_KEY: o.token,
    CLAUDE_CODE_MAX_OUTPUT_TOKENS: String(o.maxTokens),
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_AUTOUPDATER: '1',
    DISABLE_TELEMETRY: '1',
    DISABLE_ERROR_REPORTING: '1',
    DISABLE_BUG_COMMAND: '1',
    ENABLE_TOOL_SEARCH: 'false',
    ...(o.sandboxed ? { IS_SANDBOX: '1' } : {}),
  };
}
