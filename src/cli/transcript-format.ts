/**
 * Renders transcript lines (src/agents/transcript.ts, JSONL) for a person: `foreman logs`
 * (docs/architecture.md, "CLI contract"). One entry becomes a few short lines: role, turn, text,
 * tool calls with their inputs abbreviated, tool results abbreviated. Everything in a transcript
 * is agent or tracker text, hence hostile: control characters (terminal escapes) are shown as
 * `\uXXXX`, never written raw; the caller passes the output through the redactor.
 */
import type { TranscriptEntry } from '../agents/transcript.js';

/** Longest tool input / tool result / user text shown, in characters (the rest is `…`). */
export const LOGS_ABBREVIATE = { toolInput: 200, toolResult: 300, userText: 600, assistantText: 4000 } as const;

/** Per-role count of assistant turns, carried across calls while following a file. */
export type TurnCounter = Map<string, number>;

/** Shows terminal control characters (C0 except newline and tab, DEL, C1) as `\uXXXX`. */
export function inert(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}

/** `text` cut to `max` characters (an ellipsis marks the cut), control characters made inert. */
export function abbreviate(text: string, max: number): string {
  const t = text.length > max ? `${text.slice(0, max)}… (${text.length - max} more chars)` : text;
  return inert(t);
}

/** Indents every line after the first by `pad`. */
function indent(text: string, pad: string): string {
  return text.replace(/\n/g, `\n${pad}`);
}

/**
 * Lines for one transcript entry of `role`. `turns` counts assistant messages per role (the turn
 * number shown); pass the same map for every entry of a run.
 */
export function formatTranscriptEntry(role: string, entry: TranscriptEntry, turns: TurnCounter): string[] {
  const time = typeof entry.at === 'string' ? entry.at.slice(11, 19) : '';
  switch (entry.type) {
    case 'start':
      turns.set(role, 0);
      return [`── ${time} ${role} started (model ${inert(entry.model)}, issue ${inert(entry.issue)})`];
    case 'end': {
      const why = entry.error ?? entry.summary;
      return [
        `── ${time} ${role} ended: ${entry.outcome}${why ? `: ${abbreviate(why, LOGS_ABBREVIATE.userText)}` : ''}`,
      ];
    }
    case 'usage':
      return [];
    case 'exchange': {
      // Answered calls are the messages around them; a refused or failed call says why.
      const why = entry.refused ?? entry.error;
      if (!why && entry.status < 400) return [];
      const what = entry.refused ? 'refused' : `failed (${entry.status})`;
      return [`── ${time} ${role} model call ${what}${why ? `: ${abbreviate(why, LOGS_ABBREVIATE.userText)}` : ''}`];
    }
    case 'message': {
      const m = entry.message;
      const content = Array.isArray(m.content) ? m.content : [];
      const turn = m.role === 'assistant' ? (turns.get(role) ?? 0) + 1 : (turns.get(role) ?? 0);
      if (m.role === 'assistant') turns.set(role, turn);
      const head = `[${time} ${role} #${turn}] ${m.role}`;
      const out: string[] = [];
      for (const block of content) out.push(...formatBlock(head, m.role, block as unknown as Record<string, unknown>));
      return out;
    }
    default:
      return [];
  }
}

function formatBlock(head: string, role: 'user' | 'assistant', b: Record<string, unknown>): string[] {
  switch (b.type) {
    case 'text': {
      const max = role === 'assistant' ? LOGS_ABBREVIATE.assistantText : LOGS_ABBREVIATE.userText;
      return [`${head}: ${indent(abbreviate(String(b.text ?? ''), max), '    ')}`];
    }
    case 'tool_use':
      return [
        `${head} → ${inert(String(b.name ?? '?'))} ${abbreviate(JSON.stringify(b.input ?? {}), LOGS_ABBREVIATE.toolInput)}`,
      ];
    case 'tool_result': {
      const text = resultText(b.content);
      const mark = b.is_error === true ? ' (error)' : '';
      return [`${head} ← result${mark}: ${abbreviate(text.replace(/\s+/g, ' ').trim(), LOGS_ABBREVIATE.toolResult)}`];
    }
    case 'thinking':
    case 'redacted_thinking':
      return [`${head}: (thinking)`];
    default:
      return [];
  }
}

function resultText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((c: unknown) => {
      const block = c as { type?: string; text?: unknown };
      return block.type === 'text' ? String(block.text ?? '') : `[${block.type ?? '?'}]`;
    })
    .join(' ');
}

/**
 * Parses one JSONL line of a transcript; null for a blank, torn or foreign line (a line being
 * written, or not an entry), so a reader never stops on one bad line.
 */
export function parseTranscriptLine(line: string): TranscriptEntry | null {
  if (!line.trim()) return null;
  try {
    const v = JSON.parse(line) as unknown;
    if (v && typeof v === 'object' && typeof (v as { type?: unknown }).type === 'string') return v as TranscriptEntry;
  } catch {
    // torn line
  }
  return null;
}
