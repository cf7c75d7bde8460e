/**
 * Codex thread items (`item/completed` notifications) as Foreman's transcript messages
 * (src/agents/transcript.ts): an agent message is assistant text; a command, a file change, an MCP
 * or web-search call is an assistant `tool_use` followed by the user `tool_result`, so
 * `foreman logs` shows them like the built-in harness's tool calls. Reasoning and the user message
 * codex echoes back are left out (Foreman records the user turn when it sends it). Pure.
 */
import type { TranscriptMessage } from '../../transcript.js';

/** Longest tool output kept in the transcript, characters. */
const MAX_OUTPUT_CHARS = 16_000;

/** What one completed item adds to the transcript, plus what progress reports. */
export interface MappedItem {
  messages: TranscriptMessage[];
  /** The tool's name when the item is a tool call (progress's `lastTool`). */
  tool: string | null;
  /** The agent's text when the item is an agent message. */
  agentText: string | null;
}

function clip(text: string): string {
  return text.length <= MAX_OUTPUT_CHARS
    ? text
    : `${text.slice(0, MAX_OUTPUT_CHARS)}\n[… ${text.length - MAX_OUTPUT_CHARS} characters omitted …]`;
}

function toolPair(id: string, name: string, input: unknown, output: string, isError: boolean): TranscriptMessage[] {
  return [
    { role: 'assistant', content: [{ type: 'tool_use', id, name, input: input ?? {} }] },
    {
      role: 'user',
      content: [
        { type: 'tool_result', tool_use_id: id, content: clip(output), ...(isError ? { is_error: true } : {}) },
      ],
    },
  ];
}

function textOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return '';
  return JSON.stringify(value);
}

/** The transcript messages of one completed item (see the module doc). */
export function mapItem(item: Record<string, unknown>): MappedItem {
  const id = typeof item.id === 'string' ? item.id : `item_${Date.now()}`;
  const none: MappedItem = { messages: [], tool: null, agentText: null };
  switch (item.type) {
    case 'agentMessage': {
      const text = textOf(item.text);
      if (!text) return none;
      return { messages: [{ role: 'assistant', content: [{ type: 'text', text }] }], tool: null, agentText: text };
    }
    case 'commandExecution': {
      const exit = typeof item.exitCode === 'number' ? item.exitCode : null;
      const output = `${textOf(item.aggregatedOutput)}\n[exit code ${exit ?? 'none'}, ${textOf(item.status)}]`;
      const input = { command: item.command, cwd: item.cwd };
      return {
        messages: toolPair(id, 'exec_command', input, output, exit !== 0),
        tool: 'exec_command',
        agentText: null,
      };
    }
    case 'fileChange': {
      const changes = Array.isArray(item.changes) ? (item.changes as Record<string, unknown>[]) : [];
      const input = { changes: changes.map((c) => ({ path: c.path, kind: c.kind })) };
      const failed = item.status !== 'completed';
      return {
        messages: toolPair(id, 'apply_patch', input, `file change ${textOf(item.status)}`, failed),
        tool: 'apply_patch',
        agentText: null,
      };
    }
    case 'mcpToolCall': {
      const name = `${textOf(item.server)}.${textOf(item.tool)}`;
      const error = item.error ? textOf((item.error as { message?: unknown }).message ?? item.error) : '';
      const result = item.result as { content?: { text?: unknown }[] } | null | undefined;
      const output = error || (result?.content ?? []).map((c) => textOf(c.text)).join('\n') || textOf(item.status);
      return { messages: toolPair(id, name, item.arguments, output, Boolean(error)), tool: name, agentText: null };
    }
    case 'dynamicToolCall':
    case 'webSearch':
    case 'imageView': {
      const name = typeof item.tool === 'string' ? item.tool : String(item.type);
      const { id: _id, type: _type, ...rest } = item;
      return { messages: toolPair(id, name, rest, textOf(item.status ?? 'done'), false), tool: name, agentText: null };
    }
    default:
      return none;
  }
}
