/**
 * Which Claude Code session a role step continues (specs/backends.md, "claude-code"): one session
 * per role per issue run, its id recorded in the transcript's `start` entry before the CLI starts
 * (`--session-id`), so a step after an escalation answer, a rework round or a crash resumes it with
 * `--resume`. Owns that decision and where the CLI keeps its state; not running it.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { currentRun, readTranscript, type TranscriptEntry } from '../../transcript.js';
import type { AgentRole } from '../../usage.js';

/** The backend name recorded in transcripts. */
export const BACKEND = 'claude-code';

/** The session a transcript's current run belongs to. */
export interface PriorSession {
  id: string;
  /** True when the run ended with an outcome (not an error, not a crash). */
  endedCleanly: boolean;
}

/** The user turn a resumed session gets when there is no new text (a retried step after a crash or a stall). */
export const CONTINUE_TEXT =
  'Foreman restarted this step. Check the workspace state and continue the task; call the finish tool when done.';

/**
 * The Claude Code session of the transcript's current run, or null when there is none (no file,
 * no run, or the current run is not a `claude-code` one).
 * @throws ForemanError `transcript_invalid` for a corrupt transcript.
 */
export async function priorSession(transcriptPath: string): Promise<PriorSession | null> {
  let entries: TranscriptEntry[];
  try {
    entries = await readTranscript(transcriptPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const run = currentRun(entries);
  const start = run[0];
  if (start?.type !== 'start' || start.backend !== BACKEND || !start.sessionId) return null;
  // Usage and the gateway's exchange records may follow the end entry: only the conversation counts.
  const last = run.filter((e) => e.type === 'message' || e.type === 'end').at(-1);
  return { id: start.sessionId, endedCleanly: last?.type === 'end' && last.outcome !== 'error' };
}

/** What the step does with the CLI's session. */
export interface SessionPlan {
  id: string;
  /** True: `--resume id` (the session exists); false: `--session-id id` (a new session). */
  resume: boolean;
  /** The user turn to send: the first prompt (and any extra text) for a new session, else the new text. */
  texts: string[];
}

/**
 * Continues the prior session when there is new text for it or it did not end cleanly; otherwise
 * starts a new one (a fresh id) with the prompt, plus `extraUserText` when given (as the built-in
 * harness does without a transcript).
 */
export function planSession(
  prior: PriorSession | null,
  prompt: string,
  resume: { extraUserText: string } | undefined,
): SessionPlan {
  if (prior && (resume || !prior.endedCleanly)) {
    return { id: prior.id, resume: true, texts: [resume?.extraUserText ?? CONTINUE_TEXT] };
  }
  return { id: randomUUID(), resume: false, texts: resume ? [prompt, resume.extraUserText] : [prompt] };
}

/**
 * The role's Claude Code state directory (its HOME and CLAUDE_CONFIG_DIR, where sessions live):
 * next to the transcript, under FOREMAN_HOME, so no other role's agent can write it.
 */
export function configDirFor(transcriptPath: string, role: AgentRole): string {
  return path.join(path.dirname(transcriptPath), `${role}.claude-code`);
}
