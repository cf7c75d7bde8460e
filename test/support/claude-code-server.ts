/**
 * A scripted Messages API server for the real Claude Code CLI (the `claude-code` backend): the
 * scripted model server (./scripted-model-server.ts, SSE when the CLI asks `stream: true`, every
 * request recorded with its headers) with script steps in Claude Code's own tool names (`Write`,
 * `Edit`, `Bash`, `Read`, as the CLI offers them in its requests) and Foreman's MCP tools as the CLI
 * names them (`mcp__foreman__finish`, …), plus a step that stops streaming (stall tests) and
 * helpers to read what the CLI sent (prior turns, the answer on resume).
 *
 * Only the CLI's agent calls (requests that offer tools) take script steps; anything else it asks
 * (none with non-essential traffic off, but a future CLI may) gets a short text answer.
 */
import {
  startScriptedModelServer,
  text,
  toolUse,
  type CapturedRequest,
  type ScriptRaw,
  type ScriptStep,
  type ScriptUsage,
  type ScriptedModelServer,
} from './scripted-model-server.js';

/** Claude Code's `Write` tool: creates or replaces `filePath` (absolute) with `content`. */
export const ccWrite = (filePath: string, content: string, usage?: ScriptUsage) =>
  toolUse('Write', { file_path: filePath, content }, usage);

/** Claude Code's `Bash` tool. */
export const ccBash = (command: string, usage?: ScriptUsage) =>
  toolUse('Bash', { command, description: 'scripted command' }, usage);

/** Claude Code's `Read` tool. */
export const ccRead = (filePath: string, usage?: ScriptUsage) => toolUse('Read', { file_path: filePath }, usage);

/** Claude Code's `Edit` tool (the file must have been read in the session first). */
export const ccEdit = (filePath: string, oldString: string, newString: string, usage?: ScriptUsage) =>
  toolUse('Edit', { file_path: filePath, old_string: oldString, new_string: newString }, usage);

/** One of Foreman's outcome tools as Claude Code exposes it over MCP (`mcp__foreman__<tool>`). */
export const ccMcp = (
  tool: 'finish' | 'escalate' | 'submit_review',
  input: Record<string, unknown>,
  usage?: ScriptUsage,
) => toolUse(`mcp__foreman__${tool}`, input, usage);

/** A final text turn. */
export const ccText = (t: string, usage?: ScriptUsage) => text(t, usage);

/**
 * A response that sends its SSE headers and then nothing, holding the connection open until the
 * client gives up or the server closes: a model endpoint that stops streaming.
 */
export const ccStall = (): ScriptRaw => ({
  raw: { status: 200, headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' }, body: null },
});

/** The names of the tools a request offered. */
export function offeredTools(req: CapturedRequest): string[] {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- wire-format tools
  return (req.body?.tools ?? []).map((t: any) => String(t?.name));
}

/** Every text of every user message of a request (the prior turns the CLI sent), in order. */
export function userTexts(req: CapturedRequest): string[] {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- wire-format messages
  const messages: any[] = req.body?.messages ?? [];
  return messages
    .filter((m) => m?.role === 'user')
    .flatMap((m) =>
      typeof m.content === 'string'
        ? [m.content]
        : // eslint-disable-next-line @typescript-eslint/no-explicit-any -- wire-format blocks
          (m.content ?? []).filter((b: any) => b?.type === 'text').map((b: any) => String(b.text)),
    );
}

/** The names of the tools the assistant called in a request's prior turns, in order. */
export function priorToolCalls(req: CapturedRequest): string[] {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- wire-format messages
  const messages: any[] = req.body?.messages ?? [];
  return messages
    .filter((m) => m?.role === 'assistant' && Array.isArray(m.content))
    .flatMap((m) =>
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- wire-format blocks
      m.content.filter((b: any) => b?.type === 'tool_use').map((b: any) => String(b.name)),
    );
}

/** A scripted server for Claude Code, with the agent calls it answered. */
export interface ClaudeCodeModelServer extends ScriptedModelServer {
  /** The requests that took a script step (the CLI's agent calls), in order. */
  agentCalls: CapturedRequest[];
}

/**
 * Starts the server. `script` is a list of steps, one per agent call, or a function of the request
 * and the agent call's 0-based index.
 */
export async function startClaudeCodeServer(
  script: ScriptStep[] | ((req: CapturedRequest, index: number) => ScriptStep),
): Promise<ClaudeCodeModelServer> {
  const agentCalls: CapturedRequest[] = [];
  const server = await startScriptedModelServer((req) => {
    if (offeredTools(req).length === 0) return text('ok');
    const index = agentCalls.length;
    agentCalls.push(req);
    const step = Array.isArray(script) ? script[index] : script(req, index);
    if (step === undefined) throw new Error(`claude-code script exhausted at agent call #${index + 1}`);
    return step;
  });
  return Object.assign(server, { agentCalls });
}
