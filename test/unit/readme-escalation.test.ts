/**
 * The README's escalation example is a real escalation comment: rendered by the renderer from the
 * question a failed step asks (workflows/issue/step.ts), not written by hand. When the renderer or
 * the question changes, this test prints the new block to paste between the README's markers
 * (`npx tsx test/support/readme-example.ts`).
 */
import fs from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { readmeEscalationExample } from '../support/readme-example.js';

describe('README escalation example', () => {
  it('is the renderer output, between the escalation-example markers', async () => {
    const readme = await fs.readFile(new URL('../../README.md', import.meta.url), 'utf8');
    const m = /<!-- escalation-example:start -->\n```markdown\n([\s\S]*?)\n```\n<!-- escalation-example:end -->/.exec(
      readme,
    );
    expect(m, 'README.md lacks the escalation-example markers').not.toBeNull();
    expect(m![1]).toBe(readmeEscalationExample());
  });
});
