/**
 * Claude Code's stream-JSON output (`--output-format stream-json --verbose`), one JSON object per
 * line: `system/init` (session id, tools, model), `assistant` and `user` messages as the CLI sends
 * and receives them, `control_response`, and a final `result` per turn. Owns reading those lines
 * and mapping messages to Foreman's transcript blocks (src/agents/transcript.ts). Everything here
 * is the CLI's, i.e. agent-written, output: parsed defensively, never trusted for usage or cost.
 */
import type { ContentBlockParam } from '@anthropic-ai/sdk/resources/messages';

/** One stream-JSON event, as far as Foreman reads it. */
export type ClaudeEvent =
  | { type: 'system'; subtype: 'init'; session_id: string; tools: string[]; model: string }
  | { type: 'assistant'; message: { id: string; content: unknown[] }; parent_tool_use_id: string | null }
  | { type: 'user'; message: { content: unknown }; parent_tool_use_id: string | null }
  | {
      type: 'result';
      subtype: string;
      is_error: boolean;
      result?: string;
      num_turns?: number;
      api_error_status?: number | null;
      session_id?: string;
    }
  | { type: 'other'; raw: string };

/** Parses one stdout line; anything unexpected (bad JSON, unknown type) is `{ type: 'other' }`. */
export function parseEvent(line: string): ClaudeEvent {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return { type: 'other', raw: line };
  }
  if (!v || typeof v !== 'object') return { type: 'other', raw: line };
  const e = v as Record<string, unknown>;
  const msg = e.message as Record<string, unknown> | undefined;
  switch (e.type) {
    case 'system':
      if (e.subtype === 'init' && typeof e.session_id === 'string') {
        return {
          type: 'system',
          subtype: 'init',
          session_id: e.session_id,
          tools: Array.isArray(e.tools) ? e.tools.filter((t): t is string => typeof t === 'string') : [],
          model: typeof e.model === 'string' ? e.model : '',
        };
      }
      break;
    case 'assistant':
      if (msg && Array.isArray(msg.content)) {
        return {
          type: 'assistant',
          message: { id: typeof msg.id === 'string' ? msg.id : '', content: msg.content },
          parent_tool_use_id: typeof e.parent_tool_use_id === 'string' ? e.parent_tool_use_id : null,
        };
      }
      break;
    case 'user':
      if (msg) {
        return {
          type: 'user',
          message: { content: msg.content },
          parent_tool_use_id: typeof e.parent_tool_use_id === 'string' ? e.parent_tool_use_id : null,
        };
      }
      break;
    case 'result':
      return {
        type: 'result',
        subtype: typeof e.subtype === 'string' ? e.subtype : '',
        is_error: e.is_error === true,
        ...(typeof e.result === 'string' ? { result: e.result } : {}),
        ...(typeof e.num_turns === 'number' ? { num_turns: e.num_turns } : {}),
        api_error_status: typeof e.api_error_status === 'number' ? e.api_error_status : null,
        ...(typeof e.session_id === 'string' ? { session_id: e.session_id } : {}),
      };
  }
  return { type: 'other', raw: line };
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/**
 * The transcript blocks of one CLI message: text, tool_use, thinking (with its signature) and
 * tool_result (content as text) are kept, in order; other kinds (images, server tool blocks) are
 * noted as text so the transcript still shows something happened.
 */
export function toTranscriptBlocks(content: unknown): ContentBlockParam[] {
  if (typeof content === 'string') return content ? [{ type: 'text', text: content }] : [];
  if (!Array.isArray(content)) return [];
  const blocks: ContentBlockParam[] = [];
  for (const raw of content) {
    const b = (raw ?? {}) as Record<string, unknown>;
    switch (b.type) {
      case 'text':
        blocks.push({ type: 'text', text: str(b.text) });
        break;
      case 'tool_use':
        blocks.push({ type: 'tool_use', id: str(b.id), name: str(b.name), input: b.input ?? {} });
        break;
      case 'thinking':
        blocks.push({ type: 'thinking', thinking: str(b.thinking), signature: str(b.signature) });
        break;
      case 'tool_result':
        blocks.push({
          type: 'tool_result',
          tool_use_id: str(b.tool_use_id),
          content: resultText(b.content),
          ...(b.is_error === true ? { is_error: true } : {}),
        });
        break;
      default:
        blocks.push({ type: 'text', text: `[${str(b.type) || 'unknown'} block]` });
    }
  }
  return blocks;
}

/** The text of a tool_result's content (a string, or text blocks). */
function resultText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((c) => {
      const b = (c ?? {}) as Record<string, unknown>;
      return b.type === 'text' ? str(b.text) : `[${str(b.type) || 'unknown'} block]`;
    })
    .join('');
}

/** A stream-JSON user message for the CLI's stdin (`--input-format stream-json`). */
export function userMessageLine(texts: readonly string[]): string {
  const content = texts.map((text) => ({ type: 'text', text }));
  return JSON.stringify({ type: 'user', message: { role: 'user', content } }) + '\n';
}

/** The control request that interrupts the CLI's current turn (it then ends the turn with a `result`). */
export function interruptLine(requestId: string): string {
  return JSON.stringify({ type: 'control_request', request_id: requestId, request: { subtype: 'interrupt' } }) + '\n';
}
