/**
 * Decisions in the per-issue spec: each answered escalation is appended under `## Decisions`, so
 * every role reads what a human decided. Owns the entry format and the once-only append; not when
 * an answer arrives (the IssueWorkflow).
 */
import fs from 'node:fs/promises';
import type { Escalation } from '../evidence/escalation.js';
import type { HumanReply } from '../../workflows/definitions.js';
import { writeAtomically } from './write.js';

/**
 * Appends an answered escalation under the spec's `## Decisions` heading (before `## Log`), or at
 * the end when a human removed the heading. Idempotent: a hidden marker per escalation
 * (`<!-- decision N @ askedAt -->`) makes a retried call write nothing.
 */
export async function appendDecision(specPath: string, escalation: Escalation, reply: HumanReply): Promise<void> {
  const text = await fs.readFile(specPath, 'utf8').catch(() => '');
  const marker = `<!-- decision ${escalation.n} @ ${escalation.askedAt} -->`;
  if (text.includes(marker)) return;
  const quote = (t: string) =>
    t
      .trim()
      .split('\n')
      .map((l) => `  > ${l}`)
      .join('\n');
  const entry = [
    `- **Q${escalation.n}** (${escalation.kind}, asked ${escalation.askedAt}): ${escalation.question.replace(/\s+/g, ' ')}`,
    `  **Answer** from ${reply.author} (${reply.source}):`,
    quote(reply.text),
    `  ${marker}`,
    '',
  ].join('\n');
  // The last "## Log": an issue's description, quoted in the Goal, may hold one of its own.
  const log = text.lastIndexOf('\n## Log');
  const next =
    log >= 0
      ? `${text.slice(0, log).trimEnd()}\n${entry}${text.slice(log)}`
      : `${text.trimEnd()}\n\n## Decisions\n${entry}`;
  await writeAtomically(specPath, next);
}
