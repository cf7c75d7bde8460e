/**
 * The agent tools: the API Foreman's agents work through (docs/architecture.md, "Agent tools and roles", fixes the names
 * and input fields, so transcripts, policies and recorded sessions stay valid). Each tool carries
 * its Anthropic definition, a zod schema for its input and an executor confined to the workspace.
 *
 * It owns applying path containment to model-given paths (the rules are src/workspace/paths.ts),
 * the per-role tool sets and the reviewer's read-only command check; `search` runs on a worker
 * thread (./search-worker.ts). It does not run the conversation (src/agents/harness.ts) nor build
 * the child environment (src/workspace/shell.ts). File access is race-free (./workspace-fs.ts: no
 * symlink is followed by path, descriptors are verified inside the workspace, special and
 * hard-linked files are refused), so a file tool never reads or writes outside the workspace even
 * while something else swaps its directories; `run_command` runs in the sandbox (src/sandbox/).
 */
import { realpath, type FileHandle } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { z } from 'zod';
import { SEVERITIES } from '../review/findings.js';
import type { Tool } from '@anthropic-ai/sdk/resources/messages';
import { ForemanError, ToolError } from '../errors.js';
import { locate, openForRead, readDirectory, realPathOf, replaceFile, type Located } from './workspace-fs.js';
import { runSearch } from './search-worker.js';
import { DEFAULT_MAX_OUTPUT_BYTES, runShell, withoutSecrets } from '../workspace/shell.js';
import { DEFAULT_SANDBOX, type SandboxPolicy } from '../sandbox/policy.js';

import type { AgentRole } from './usage.js';

/** Every tool name Foreman advertises. */
export type ToolName =
  | 'read_file'
  | 'list_files'
  | 'search'
  | 'write_file'
  | 'edit_file'
  | 'run_command'
  | 'escalate'
  | 'finish'
  | 'submit_review';

/** Which tools each role gets (docs/architecture.md, "Agent tools and roles"; the reviewer is read-only). */
export const toolSets = {
  implementer: ['read_file', 'list_files', 'search', 'write_file', 'edit_file', 'run_command', 'escalate', 'finish'],
  reviewer: ['read_file', 'list_files', 'search', 'run_command', 'submit_review'],
  qa: ['read_file', 'list_files', 'search', 'run_command', 'write_file', 'finish'],
} as const satisfies Record<AgentRole, readonly ToolName[]>;

/** What the tools of one run may touch. */
export interface ToolContext {
  /** Workspace root; every path is relative to it and must stay inside it. */
  workspace: string;
  /** Environment for `run_command` (build it with `scrubbedEnv`; secret names are dropped again). */
  env: Record<string, string>;
  /** Default `run_command` timeout in ms when the model gives none. (Default: 120000) */
  commandTimeoutMs?: number;
  /** Bytes of command output returned to the model, head and tail. (Default: 16000) */
  maxOutputBytes?: number;
  /**
   * Wall-clock limit of one `search` call in ms; past it the search thread is stopped and the call
   * fails with `search_timeout` (a model-given regex can backtrack for hours). (Default: 10000)
   */
  searchTimeoutMs?: number;
  /** Where `run_command` records its process groups (see shell.ts `killOrphans`). (Default: not recorded) */
  pidDir?: string;
  /** The sandbox `run_command` runs in (src/sandbox/). (Default: bwrap, no network) */
  sandbox?: SandboxPolicy;
}

/** The question an `escalate` call asks a human. */
export const escalationSchema = z.object({
  question: z.string().min(1).describe('The exact question for the human, answerable in a minute.'),
  options: z.array(z.string().min(1)).optional().describe('The choices you see, if any.'),
  recommendation: z.string().min(1).optional().describe('The option you recommend and why.'),
});

/** One reviewer finding. */
export const findingSchema = z.object({
  severity: z.enum(SEVERITIES),
  path: z.string().optional().describe('File the finding is about, relative to the workspace.'),
  line: z.number().int().positive().optional().describe('1-based line in that file.'),
  message: z.string().min(1).describe('What is wrong and what to do instead.'),
});

/** The reviewer's structured verdict (`submit_review`). */
export const reviewSchema = z.object({
  verdict: z.enum(['approve', 'request_changes', 'escalate']),
  findings: z.array(findingSchema).describe('Empty when there is nothing to report.'),
});

/** An escalation as validated from the model's `escalate` call. */
export type EscalateInput = z.infer<typeof escalationSchema>;
/** A reviewer finding. */
export type ReviewFinding = z.infer<typeof findingSchema>;
/** A review as validated from the model's `submit_review` call. */
export type Review = z.infer<typeof reviewSchema>;

/** A tool call that ends the run (the harness stops after the current response's tool calls). */
export type ToolControl =
  | { kind: 'finish'; summary: string }
  | { kind: 'escalate'; escalation: EscalateInput }
  | { kind: 'review'; review: Review };

/** What a tool returns: the text for the `tool_result`, and whether the call ends the run. */
export interface ToolOutput {
  content: string;
  control?: ToolControl;
}

/** Per-call options. */
export interface ToolCallOptions {
  /** Aborts a running command (its process group is killed). */
  signal?: AbortSignal;
}

/** The tools of one role bound to one workspace. */
export interface Toolbox {
  readonly role: AgentRole;
  readonly names: readonly ToolName[];
  /** Definitions for the Messages API `tools` parameter, in `names` order. */
  readonly definitions: Tool[];
  /** Runs the named tool. Throws `ToolError` (e.g. `tool_unknown`, `tool_input_invalid`). */
  execute(name: string, input: unknown, opts?: ToolCallOptions): Promise<ToolOutput>;
}

/** The `escalate` tool_result text; the harness keeps it in the transcript so a resumed conversation is valid. */
export const ESCALATED_TOOL_RESULT = 'Escalated to a human; wait for their answer.';

/** Wall-clock limit of one `search` call in ms, when the context gives none. */
export const DEFAULT_SEARCH_TIMEOUT_MS = 10_000;
/** Lines `read_file` returns when no `limit` is given. */
export const DEFAULT_READ_LIMIT_LINES = 2000;
/** Default and maximum `run_command` timeouts, in ms. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 120_000;
export const MAX_COMMAND_TIMEOUT_MS = 600_000;
const MAX_LIST_ENTRIES = 1000;
const MAX_SEARCH_MATCHES = 200;
/** Characters of one `read_file` result; past it the model should page with offset/limit. */
const MAX_READ_CHARS = 256_000;
/** Files larger than this are not read (read_file) or skipped (search), in bytes. */
const MAX_READ_FILE_BYTES = 20 * 1024 * 1024;
const MAX_SEARCH_FILE_BYTES = 2 * 1024 * 1024;
/** Characters of a matching line shown by `search`, and tested against the pattern. */
const MAX_SEARCH_LINE_CHARS = 300;
const MAX_SEARCH_TEST_CHARS = 10_000;
const SEARCH_SKIP_DIRS = ['.git', 'node_modules'];

// ---------------------------------------------------------------------------------------------
// Paths

interface Workspace {
  /** realpath of the workspace root. */
  root: string;
}

/**
 * Locates a model-given path inside the workspace (see ./workspace-fs.ts), runs `fn` on it and
 * closes its directory. Throws `ToolError` `path_outside_workspace`, `path_forbidden` for a write
 * into `.git/`, and whatever `fn` throws.
 */
async function withLocated<T>(
  ws: Workspace,
  given: string,
  mode: 'read' | 'write' | 'edit',
  fn: (loc: Located) => Promise<T>,
): Promise<T> {
  const loc = await locate(ws.root, given, { write: mode !== 'read', create: mode === 'write' });
  try {
    return await fn(loc);
  } finally {
    await loc.dir.close();
  }
}

/** Opens the located entry for reading, runs `fn` on the descriptor, and closes it. */
async function withOpened<T>(
  ws: Workspace,
  loc: Located,
  given: string,
  kind: 'file' | 'directory',
  fn: (handle: FileHandle, info: Stats) => Promise<T>,
): Promise<T> {
  const { handle, info } = await openForRead(ws.root, loc, given, kind);
  try {
    return await fn(handle, info);
  } finally {
    await handle.close();
  }
}

function relOf(loc: Located): string {
  return loc.parts.length === 0 ? '.' : loc.parts.join('/');
}

function looksBinary(buf: Buffer): boolean {
  return buf.subarray(0, 8192).includes(0);
}

// ---------------------------------------------------------------------------------------------
// Tool plumbing

interface ToolRuntime {
  ws: () => Promise<Workspace>;
  ctx: ToolContext;
  signal: AbortSignal | undefined;
}

interface ToolSpec<S extends z.ZodType> {
  name: ToolName;
  description: string;
  schema: S;
  run(input: z.infer<S>, rt: ToolRuntime): Promise<ToolOutput>;
}

interface BoundSpec {
  name: ToolName;
  definition: Tool;
  execute(input: unknown, rt: ToolRuntime): Promise<ToolOutput>;
}

function inputSchemaOf(schema: z.ZodType): Tool.InputSchema {
  const json = z.toJSONSchema(schema, { io: 'input' }) as Record<string, unknown>;
  delete json.$schema;
  return json as Tool.InputSchema;
}

function defineTool<S extends z.ZodType>(spec: ToolSpec<S>): BoundSpec {
  return {
    name: spec.name,
    definition: { name: spec.name, description: spec.description, input_schema: inputSchemaOf(spec.schema) },
    async execute(input, rt) {
      const parsed = spec.schema.safeParse(input ?? {});
      if (!parsed.success) {
        throw new ToolError(
          'tool_input_invalid',
          `Invalid input for ${spec.name}:\n${z.prettifyError(parsed.error)}\nFix the input and call ${spec.name} again.`,
        );
      }
      return spec.run(parsed.data, rt);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Tools

const readFileTool = defineTool({
  name: 'read_file',
  description:
    'Read a text file in the workspace. Returns the raw text (no line numbers). Long files are cut ' +
    `at ${DEFAULT_READ_LIMIT_LINES} lines with a note; page with offset (1-based line) and limit (lines).`,
  schema: z.object({
    path: z.string().min(1).describe('File path relative to the workspace root.'),
    offset: z.number().int().min(1).optional().describe('First line to return, 1-based. (Default: 1)'),
    limit: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe(`Number of lines to return. (Default: ${DEFAULT_READ_LIMIT_LINES})`),
  }),
  async run(input, rt) {
    const ws = await rt.ws();
    const buf = await withLocated(ws, input.path, 'read', (loc) =>
      withOpened(ws, loc, input.path, 'file', async (handle, info) => {
        if (info.size > MAX_READ_FILE_BYTES) {
          throw new ToolError(
            'file_too_large',
            `'${input.path}' is ${info.size} bytes; read parts of it with run_command (e.g. head, sed -n) or search.`,
          );
        }
        return handle.readFile();
      }),
    );
    if (looksBinary(buf))
      throw new ToolError('binary_file', `'${input.path}' looks binary; it cannot be shown as text.`);
    const text = buf.toString('utf8');
    if (text === '') return { content: '(empty file)' };
    const lines = text.split('\n');
    if (text.endsWith('\n')) lines.pop();
    const total = lines.length;
    const start = (input.offset ?? 1) - 1;
    if (start >= total) {
      throw new ToolError(
        'tool_input_invalid',
        `offset ${start + 1} is past the end of '${input.path}' (${total} lines).`,
      );
    }
    let end = Math.min(total, start + (input.limit ?? DEFAULT_READ_LIMIT_LINES));
    let body = lines.slice(start, end).join('\n');
    let cutInLine = false;
    if (body.length > MAX_READ_CHARS) {
      const cut = body.lastIndexOf('\n', MAX_READ_CHARS);
      cutInLine = cut <= 0;
      body = cutInLine ? body.slice(0, MAX_READ_CHARS) : body.slice(0, cut);
      end = start + body.split('\n').length;
    }
    if (start === 0 && end === total && !cutInLine) return { content: text };
    if (cutInLine) {
      return { content: `${body}\n\n[… line ${start + 1} is longer than ${MAX_READ_CHARS} characters and was cut …]` };
    }
    const more = end < total ? `; call read_file with offset=${end + 1} to read on` : '';
    return { content: `${body}\n\n[… showing lines ${start + 1}-${end} of ${total}${more} …]` };
  },
});

const listFilesTool = defineTool({
  name: 'list_files',
  description:
    'List one directory level of the workspace: one entry per line, directories with a trailing "/", ' +
    `.git omitted, at most ${MAX_LIST_ENTRIES} entries.`,
  schema: z.object({
    path: z.string().optional().describe('Directory relative to the workspace root. (Default: the root)'),
  }),
  async run(input, rt) {
    const ws = await rt.ws();
    const given = input.path && input.path !== '' ? input.path : '.';
    const listed = await withLocated(ws, given, 'read', (loc) =>
      withOpened(ws, loc, given, 'directory', (handle) => readDirectory(handle)),
    );
    const entries = listed
      .filter((entry) => entry.name !== '.git')
      .map((entry) => (entry.isDirectory() ? `${entry.name}/` : entry.name))
      .sort();
    if (entries.length === 0) return { content: '(empty directory)' };
    const shown = entries.slice(0, MAX_LIST_ENTRIES);
    const note = entries.length > shown.length ? `\n[… ${entries.length - shown.length} more entries not shown …]` : '';
    return { content: shown.join('\n') + note };
  },
});

const searchTool = defineTool({
  name: 'search',
  description:
    'Search file contents with a JavaScript regular expression (case-sensitive), line by line. ' +
    'Walks the files under path, skipping .git, node_modules and symlinks. ' +
    `Returns "file:line: text" lines, at most ${MAX_SEARCH_MATCHES} matches. ` +
    'A search that runs too long is stopped; then use a simpler pattern or a narrower path.',
  schema: z.object({
    pattern: z.string().min(1).describe('JavaScript regular expression, e.g. "function\\s+add".'),
    path: z.string().optional().describe('File or directory relative to the workspace root. (Default: the root)'),
  }),
  async run(input, rt) {
    const ws = await rt.ws();
    try {
      // Compiling is cheap and cannot hang; only matching runs on the worker thread.
      new RegExp(input.pattern);
    } catch (err) {
      throw new ToolError('tool_input_invalid', `Invalid regular expression: ${(err as Error).message}`);
    }
    const given = input.path && input.path !== '' ? input.path : '.';
    const real = await withLocated(ws, given, 'read', (loc) =>
      withOpened(ws, loc, given, loc.info?.isDirectory() ? 'directory' : 'file', (handle) => realPathOf(handle)),
    );
    const timeoutMs = rt.ctx.searchTimeoutMs ?? DEFAULT_SEARCH_TIMEOUT_MS;
    const result = await runSearch(
      {
        root: ws.root,
        start: real,
        pattern: input.pattern,
        maxMatches: MAX_SEARCH_MATCHES,
        maxFileBytes: MAX_SEARCH_FILE_BYTES,
        maxLineChars: MAX_SEARCH_LINE_CHARS,
        maxTestChars: MAX_SEARCH_TEST_CHARS,
        skipDirs: SEARCH_SKIP_DIRS,
      },
      { timeoutMs, signal: rt.signal },
    );
    if (result.kind === 'timeout') {
      throw new ToolError(
        'search_timeout',
        `search for /${input.pattern}/ was stopped after ${timeoutMs} ms; use a simpler pattern ` +
          '(no nested quantifiers such as (a+)+) or a narrower path.',
      );
    }
    const { matches, capped } = result;
    if (matches.length === 0) return { content: 'No matches.' };
    const note = capped ? `\n[… stopped at ${MAX_SEARCH_MATCHES} matches; narrow the pattern or the path …]` : '';
    return { content: matches.join('\n') + note };
  },
});

const writeFileTool = defineTool({
  name: 'write_file',
  description: 'Create or overwrite a file in the workspace with the given content (parent directories are created).',
  schema: z.object({
    path: z.string().min(1).describe('File path relative to the workspace root.'),
    content: z.string().describe('The complete new content of the file.'),
  }),
  async run(input, rt) {
    const ws = await rt.ws();
    const rel = await withLocated(ws, input.path, 'write', async (loc) => {
      await replaceFile(ws.root, loc, input.content, input.path);
      return relOf(loc);
    });
    return { content: `Wrote ${Buffer.byteLength(input.content)} bytes to ${rel}.` };
  },
});

function countOccurrences(haystack: string, needle: string): number {
  let count = 0;
  for (let at = haystack.indexOf(needle); at !== -1; at = haystack.indexOf(needle, at + needle.length)) count++;
  return count;
}

/** `text` with the one occurrence of `oldText` replaced. Throws `edit_not_found`, `edit_not_unique`. */
function applyEdit(text: string, oldText: string, newText: string, rel: string): string {
  const count = countOccurrences(text, oldText);
  if (count === 0) {
    throw new ToolError(
      'edit_not_found',
      `old_text occurs 0 times in ${rel}; read the file and copy the exact text, whitespace included.`,
    );
  }
  if (count > 1) {
    throw new ToolError(
      'edit_not_unique',
      `old_text occurs ${count} times in ${rel}; include more surrounding text so it occurs exactly once.`,
    );
  }
  const at = text.indexOf(oldText);
  // Slicing, not String.replace: `$&`-style patterns in new_text must stay literal.
  return text.slice(0, at) + newText + text.slice(at + oldText.length);
}

const editFileTool = defineTool({
  name: 'edit_file',
  description:
    'Replace one exact piece of text in a file. old_text must occur exactly once (whitespace included); ' +
    'add surrounding lines to make it unique. Use write_file to create files.',
  schema: z.object({
    path: z.string().min(1).describe('File path relative to the workspace root.'),
    old_text: z.string().min(1).describe('The exact text to replace; must occur exactly once.'),
    new_text: z.string().describe('The replacement text.'),
  }),
  async run(input, rt) {
    const ws = await rt.ws();
    const rel = await withLocated(ws, input.path, 'edit', async (loc) => {
      const text = await withOpened(ws, loc, input.path, 'file', async (handle) => handle.readFile('utf8'));
      await replaceFile(ws.root, loc, applyEdit(text, input.old_text, input.new_text, relOf(loc)), input.path);
      return relOf(loc);
    });
    return { content: `Edited ${rel}: replaced 1 occurrence.` };
  },
});

const runCommandSchema = z.object({
  command: z.string().min(1).describe('A bash command line, run with `bash -c` in the workspace root.'),
  timeout_ms: z
    .number()
    .int()
    .positive()
    .optional()
    .describe(`Timeout in ms. (Default: ${DEFAULT_COMMAND_TIMEOUT_MS}; at most ${MAX_COMMAND_TIMEOUT_MS})`),
});

async function runCommand(input: z.infer<typeof runCommandSchema>, rt: ToolRuntime): Promise<ToolOutput> {
  const ws = await rt.ws();
  const timeoutMs = Math.min(
    input.timeout_ms ?? rt.ctx.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
    MAX_COMMAND_TIMEOUT_MS,
  );
  const result = await runShell({
    command: input.command,
    cwd: ws.root,
    env: withoutSecrets(rt.ctx.env),
    timeoutMs,
    maxOutputBytes: rt.ctx.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES,
    signal: rt.signal,
    ...(rt.ctx.pidDir ? { pidDir: rt.ctx.pidDir } : {}),
    sandbox: { policy: rt.ctx.sandbox ?? DEFAULT_SANDBOX, workspace: ws.root },
  });
  let header: string;
  if (result.timedOut) {
    header = `timed out after ${timeoutMs}ms; the command was killed (${result.durationMs}ms)`;
  } else if (result.exitCode === null) {
    header = `killed by ${result.signal ?? 'a signal'} (${result.durationMs}ms)`;
  } else {
    header = `exit code ${result.exitCode} (${result.durationMs}ms)`;
  }
  if (result.truncated) header += `\n[output truncated: ${result.outputBytes} bytes in total, head and tail shown]`;
  if (result.deniedHosts.length) {
    header += `\n[network: the sandbox refused ${result.deniedHosts.join(', ')} (not in sandbox.allow_hosts)]`;
  }
  return { content: `${header}\n${result.output === '' ? '(no output)' : result.output}` };
}

const runCommandTool = defineTool({
  name: 'run_command',
  description:
    'Run a shell command in the workspace root (bash -c, stdin closed, no secrets in the environment). ' +
    'Returns "exit code N (Xms)" and the combined stdout/stderr; long output keeps its head and tail.',
  schema: runCommandSchema,
  run: runCommand,
});

/** Subcommands the reviewer may run: they only read the repository. */
const READ_ONLY_GIT = new Set(['diff', 'log', 'show', 'status']);
/** Plain words only: no quoting, globbing, expansion, redirection or command separators. */
const PLAIN_ARG = /^[A-Za-z0-9_\-./:=@^~,+%]+$/;
/** Options of the allowed subcommands that write files, run programs or read outside the repo. */
const FORBIDDEN_GIT_OPTION = /^(--output|--ext-diff|--textconv|--no-index|--exec|--open-files-in-pager|--orderfile|-O)/;

/**
 * True when `command` is `git diff|log|show|status` with plain arguments only (letters, digits
 * and `_-./:=@^~,+%`), none of them an option that writes or runs something. The reviewer's
 * `run_command` accepts nothing else (docs/architecture.md, "Agent tools and roles": the reviewer has read-only tools).
 */
export function isReadOnlyGitCommand(command: string): boolean {
  const words = command.trim().split(/ +/);
  if (words[0] !== 'git' || !READ_ONLY_GIT.has(words[1] ?? '')) return false;
  return words.slice(2).every((word) => PLAIN_ARG.test(word) && !FORBIDDEN_GIT_OPTION.test(word));
}

const reviewerRunCommandTool = defineTool({
  name: 'run_command',
  description:
    'Run a read-only git command in the workspace root: only `git diff`, `git log`, `git show` or ' +
    '`git status` with plain arguments (no quotes, pipes or redirections). Returns "exit code N (Xms)" and the output.',
  schema: runCommandSchema,
  async run(input, rt) {
    if (!isReadOnlyGitCommand(input.command)) {
      throw new ToolError(
        'command_not_allowed',
        'The reviewer may only run `git diff`, `git log`, `git show` or `git status` with plain arguments ' +
          `(no quotes, pipes, redirections or --output/--ext-diff/--no-index). Rejected: ${input.command}`,
      );
    }
    return runCommand(input, rt);
  },
});

const escalateTool = defineTool({
  name: 'escalate',
  description:
    'Ask a human a decision you cannot or should not make yourself. Ends your turn; the work resumes ' +
    'with their answer. Give one exact question, the options and your recommendation.',
  schema: escalationSchema,
  async run(input) {
    return { content: ESCALATED_TOOL_RESULT, control: { kind: 'escalate', escalation: input } };
  },
});

const finishTool = defineTool({
  name: 'finish',
  description: 'Declare your work done, with a short summary of what you did and how you checked it. Ends the run.',
  schema: z.object({
    summary: z.string().min(1).describe('What was done and the evidence that it works.'),
  }),
  async run(input) {
    return { content: 'Finish recorded.', control: { kind: 'finish', summary: input.summary } };
  },
});

const submitReviewTool = defineTool({
  name: 'submit_review',
  description:
    'Submit your review of the change against the spec: verdict approve, request_changes (with findings) ' +
    'or escalate (a human must decide). Ends the review.',
  schema: reviewSchema,
  async run(input) {
    return { content: 'Review submitted.', control: { kind: 'review', review: input } };
  },
});

const commonTools: Record<Exclude<ToolName, 'run_command'>, BoundSpec> = {
  read_file: readFileTool,
  list_files: listFilesTool,
  search: searchTool,
  write_file: writeFileTool,
  edit_file: editFileTool,
  escalate: escalateTool,
  finish: finishTool,
  submit_review: submitReviewTool,
};

/**
 * Binds the tools of `role` (see {@link toolSets}) to one workspace. The workspace's realpath is
 * taken on first use. Unknown tool names throw `ToolError` `tool_unknown`; other tool failures
 * throw `ToolError` with the codes listed on that class.
 */
export function createToolbox(role: AgentRole, ctx: ToolContext): Toolbox {
  const names: readonly ToolName[] = toolSets[role];
  const bound = new Map<string, BoundSpec>(
    names.map((name) => [
      name,
      name === 'run_command' ? (role === 'reviewer' ? reviewerRunCommandTool : runCommandTool) : commonTools[name],
    ]),
  );
  let workspace: Promise<Workspace> | undefined;
  const ws = (): Promise<Workspace> => {
    workspace ??= realpath(ctx.workspace).then(
      (root) => ({ root }),
      (err: unknown) => {
        workspace = undefined;
        throw new ForemanError('workspace_missing', `Workspace ${ctx.workspace} does not exist or is unreadable.`, {
          cause: err,
          retryable: true,
        });
      },
    );
    return workspace;
  };
  return {
    role,
    names,
    definitions: [...bound.values()].map((tool) => tool.definition),
    async execute(name, input, opts = {}) {
      const tool = bound.get(name);
      if (!tool) {
        throw new ToolError('tool_unknown', `Unknown tool '${name}'. Available tools: ${names.join(', ')}.`);
      }
      return tool.execute(input, { ws, ctx, signal: opts.signal });
    },
  };
}
