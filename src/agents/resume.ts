/**
 * How an agent step continues its conversation: the transcript on disk is the conversation, so a
 * new round, an answer or a retried activity after a crash picks it up from there. Owns the decision
 * of what (if anything) to add as the next user turn; not running the model (./harness.ts).
 */
import { readTranscript, rebuildConversation } from './transcript.js';

/**
 * The user turn that continues the conversation in `transcriptPath`, or undefined when the harness
 * should continue on its own (an unfinished conversation) or start fresh (no transcript, no text).
 * - `next` (feedback, an answer) becomes the next user turn once: a retried activity finds it
 *   already delivered and lets the harness continue from the transcript.
 * - A retry (`attempt` > 1) of a run that had ended cleanly gets a note to check the workspace and
 *   go on.
 */
export async function resumeTurn(
  transcriptPath: string,
  next: string | null,
  attempt: number,
): Promise<{ extraUserText: string } | undefined> {
  const entries = await readTranscript(transcriptPath).catch(() => null);
  if (!entries?.length) return next ? { extraUserText: next } : undefined;
  if (next) {
    const delivered = rebuildConversation(entries).some(
      (m) =>
        m.role === 'user' && Array.isArray(m.content) && m.content.some((b) => b.type === 'text' && b.text === next),
    );
    if (!delivered) return { extraUserText: next };
  }
  // The gateway's exchange lines are not the conversation: one may follow the end (a late call).
  if (attempt > 1 && entries.filter((e) => e.type !== 'exchange').at(-1)?.type === 'end') {
    return {
      extraUserText: `Foreman restarted this step (attempt ${attempt}). Check the workspace state and continue the task; call finish when done.`,
    };
  }
  return undefined;
}
