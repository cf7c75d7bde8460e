/**
 * STAND-IN for the answer parser the "answers" work delivers (workflows/issue/answer.ts
 * `chooseOption`): this branch's push-rebase escalation is written against that name and
 * signature, and this small version exists only so the branch compiles and its tests run. Replace
 * the import with the real module at merge time and delete this file.
 *
 * Understands exactly two forms, with surrounding whitespace and a trailing period ignored: a
 * digit `1`..`n` naming an option, and `/foreman <word>` naming the first option whose text has
 * `<word>` as a whole word (case-insensitive). Anything else is free text (null).
 */
import type { HumanReply } from '../definitions.js';

/** The 1-based option `reply` picks from `options`, or null when it is free text. */
export function chooseOption(reply: HumanReply, options: readonly string[]): number | null {
  const text = reply.text.trim().replace(/\.$/, '').trim();
  const digit = /^(\d)$/.exec(text);
  if (digit) {
    const n = Number(digit[1]);
    return n >= 1 && n <= options.length ? n : null;
  }
  const command = /^\/foreman\s+([a-z][a-z-]*)$/i.exec(text);
  if (!command) return null;
  const word = command[1]!.toLowerCase();
  const i = options.findIndex((o) =>
    o
      .toLowerCase()
      .split(/[^a-z-]+/)
      .includes(word),
  );
  return i < 0 ? null : i + 1;
}
