/**
 * The JSONL transcript of one agent run: one JSON object per line, appended as the run goes, so
 * the conversation can be rebuilt (and resumed) from the file alone and a crash loses at most the
 * line being written. It owns the file format and the rebuild rules; it does not decide where
 * transcripts live (FOREMAN_HOME, the caller) nor what a run does (src/agents/harness.ts).
 *
 * Secrets never go in here: the harness writes only the system prompt, the messages and usage,
 * and every string of every entry passes through the redactor on the way (src/redact.ts), except
 * thinking-block signatures, which the API checks byte for byte on resume.
 */
import { appendFile, mkdir, open, readFile, stat, truncate } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ContentBlockParam, MessageParam } from '@anthropic-ai/sdk/resources/messages';
import { ForemanError } from '../errors.js';
import { redact } from '../redact.js';
import type { TokenUsage } from './usage.js';

/** One conversation message as sent to the Messages API (content always as blocks). */
export interface TranscriptMessage {
  role: 'user' | 'assistant';
  content: ContentBlockParam[];
}

/** How a run ended: the harness outcomes, plus `error` (the run threw; `error` says why). */
export type TranscriptOutcome =
  'finished' | 'escalated' | 'review_submitted' | 'max_turns' | 'budget_exhausted' | 'error';

/** First line of a run (a file may hold several runs; the last `start` begins the current one). */
export interface TranscriptStartEntry {
  type: 'start';
  /** RFC 3339 time of the entry. */
  at: string;
  role: string;
  model: string;
  /** Issue identifier, e.g. `DEMO-1`. */
  issue: string;
  system: string;
  /** Names of the tools advertised to the model. */
  tools: string[];
  /** The backend that ran this run (specs/backends.md); absent: `builtin`. */
  backend?: string;
  /** The agent CLI's own session id (`claude-code`), which a later step of the role resumes. */
  sessionId?: string;
}

/** One message of the conversation, in order; user and assistant alike. */
export interface TranscriptMessageEntry {
  type: 'message';
  at: string;
  message: TranscriptMessage;
}

/** Usage of one model call. */
export interface TranscriptUsageEntry {
  type: 'usage';
  at: string;
  usage: TokenUsage;
}

/** Last line of a run that ended (normally or with an error). */
export interface TranscriptEndEntry {
  type: 'end';
  at: string;
  outcome: TranscriptOutcome;
  summary?: string;
  error?: string;
}

/**
 * One model call as the model gateway saw it (src/gateway/; specs/gateway.md, "What it records"):
 * written by the gateway, whatever backend made the call. Not part of the conversation.
 */
export interface TranscriptExchangeEntry {
  type: 'exchange';
  /** RFC 3339 time the call ended (answered, refused or failed). */
  at: string;
  /** Provider API: `anthropic` (Messages) or `openai` (Responses). */
  api: 'anthropic' | 'openai';
  /** Request path at the provider, e.g. `/v1/messages`. */
  path: string;
  /** What was asked: the model, whether streamed, conversation items sent, `max_tokens` / `max_output_tokens`. */
  request: { model: string | null; stream: boolean; items: number | null; maxTokens: number | null };
  /** The model that answered (from the response), else null. */
  model: string | null;
  /** HTTP status the agent got. */
  status: number;
  /** Upstream attempts (1 + retries); 0 when refused before any. */
  attempts: number;
  /** From the request's arrival to the last byte of the answer, ms. */
  latencyMs: number;
  /** Tokens the response reported; null when it reported none. */
  usage: TokenUsage | null;
  /** USD of this call; null when unknown (no usage or no price). */
  costUsd: number | null;
  /** Why the gateway refused the call (the budget); absent when forwarded. */
  refused?: string;
  /** Why the call failed at the gateway (upstream unreachable, client gone); absent otherwise. */
  error?: string;
}

/** Any line of a transcript file. */
export type TranscriptEntry =
  TranscriptStartEntry | TranscriptMessageEntry | TranscriptUsageEntry | TranscriptExchangeEntry | TranscriptEndEntry;

/** An open transcript: appends one JSON line per entry. */
export interface Transcript {
  /** Absolute or caller-given path of the JSONL file. */
  readonly path: string;
  /** Appends one entry as one line (creating the file and its parent directories if needed). */
  append(entry: TranscriptEntry): Promise<void>;
}

/**
 * Opens (creating parent directories) the transcript at `path` for appending. If a previous
 * writer died mid-line, the torn tail is cut off first, so the next line starts clean.
 */
export async function openTranscript(path: string): Promise<Transcript> {
  await mkdir(dirname(path), { recursive: true });
  await repairTornTail(path);
  return {
    path,
    async append(entry: TranscriptEntry): Promise<void> {
      await mkdir(dirname(path), { recursive: true });
      await appendFile(path, JSON.stringify(redactEntry(entry)) + '\n', 'utf8');
    },
  };
}

/** Keys whose values are opaque API tokens that must round-trip unchanged (thinking signatures). */
const OPAQUE_KEYS = new Set(['signature', 'data']);

/** `value` with every string redacted, except the values of {@link OPAQUE_KEYS}. */
function redactEntry<T>(value: T): T {
  if (typeof value === 'string') return redact(value) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => redactEntry(v)) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, OPAQUE_KEYS.has(k) ? v : redactEntry(v)])) as T;
  }
  return value;
}

async function repairTornTail(path: string): Promise<void> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (size === 0) return;
  const handle = await open(path, 'r');
  try {
    const last = Buffer.alloc(1);
    await handle.read(last, 0, 1, size - 1);
    if (last[0] === 0x0a) return;
  } finally {
    await handle.close();
  }
  const text = await readFile(path);
  const cut = text.lastIndexOf(0x0a);
  await truncate(path, cut + 1);
}

/**
 * Reads every entry of a transcript. A torn last line (a crash mid-append) is ignored.
 * Throws the fs error when the file cannot be read (e.g. ENOENT), and `ForemanError` code
 * `transcript_invalid` when a line other than the last is not JSON.
 */
export async function readTranscript(path: string): Promise<TranscriptEntry[]> {
  const text = await readFile(path, 'utf8');
  const lines = text.split('\n');
  const entries: TranscriptEntry[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    try {
      entries.push(JSON.parse(line) as TranscriptEntry);
    } catch (err) {
      const isLast = lines.slice(i + 1).every((rest) => rest.trim() === '');
      if (isLast) break;
      throw new ForemanError(
        'transcript_invalid',
        `Transcript ${path} line ${i + 1} is not valid JSON; move the file aside to start the agent afresh.`,
        { cause: err },
      );
    }
  }
  return entries;
}

/** The entries of the current run: from the last `start` entry on (or all, if there is none). */
export function currentRun(entries: readonly TranscriptEntry[]): TranscriptEntry[] {
  let from = 0;
  entries.forEach((entry, i) => {
    if (entry.type === 'start') from = i;
  });
  return entries.slice(from);
}

/**
 * Rebuilds the conversation of the current run (see {@link currentRun}) as Messages API params,
 * in its last complete state, valid to send as-is:
 * - an assistant message whose `tool_use` blocks did not all get results in the next message is
 *   dropped (the run died while executing tools; the model will look again);
 * - consecutive messages of one role are merged (a resumed run appends the human's answer as its
 *   own user entry after the tool results).
 */
export function rebuildConversation(entries: readonly TranscriptEntry[]): MessageParam[] {
  const raw = currentRun(entries).flatMap((entry) => (entry.type === 'message' ? [entry.message] : []));
  const complete = raw.filter((message, i) => {
    if (message.role !== 'assistant') return true;
    const ids = message.content.flatMap((block) => (block.type === 'tool_use' ? [block.id] : []));
    if (ids.length === 0) return true;
    const next = raw[i + 1];
    if (next?.role !== 'user') return false;
    const answered = new Set(
      next.content.flatMap((block) => (block.type === 'tool_result' ? [block.tool_use_id] : [])),
    );
    return ids.every((id) => answered.has(id));
  });
  const messages: TranscriptMessage[] = [];
  for (const message of complete) {
    const prev = messages.at(-1);
    if (prev && prev.role === message.role) prev.content = [...prev.content, ...message.content];
    else messages.push({ role: message.role, content: [...message.content] });
  }
  return messages;
}
