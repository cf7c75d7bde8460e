/**
 * `POST /api/v1/<identifier>/answer` (docs/architecture.md, "Dashboard"): the operator's answer to
 * the issue's waiting escalation from the dashboard or any HTTP client, through the one answer path
 * `foreman answer` uses (src/escalation/deliver.ts), behind the API's bearer token (src/server/http.ts).
 * The sender is the operator, as with `foreman answer`, so `mayApprove` is true (specs/escalations.md,
 * "Approval").
 *
 * Body: `{ "text": "2", "escalation": 1 }`; `escalation` (the question's number in the run, as the
 * dashboard shows it) is optional and, when given, must be the question that waits.
 * Answers: 200 `{ answered, escalation, option, question, line }`; 400 `bad_request` (not JSON,
 * no text); 404 `issue_not_running` (no run of the issue); 409 `not_waiting` / `escalation_changed`;
 * 422 `answer_not_on_offer` (nothing sent).
 */
import type { Client } from '@temporalio/client';
import { Hono } from 'hono';
import type { Deployment } from '../deployment.js';
import { ForemanError } from '../errors.js';
import { deliverAnswer } from '../escalation/deliver.js';
import { redact, redactDeep } from '../redact.js';

/** What the answer route needs from the daemon. */
export interface AnswerDeps {
  client: Client;
  /** The daemon's deployment: the run answered is this deployment's run of the issue. */
  deployment: Deployment;
}

/** Longest answer accepted, in characters (a comment-sized reply; larger bodies are refused with 400). */
export const ANSWER_MAX_CHARS = 20_000;

/** HTTP status per error code of the answer path. */
const STATUS_OF = {
  issue_not_running: 404,
  not_waiting: 409,
  escalation_changed: 409,
  answer_not_on_offer: 422,
  usage: 400,
} as const;

const apiError = (code: string, message: string) => ({ error: { code, message } });

/** A parsed answer body, or the reason it is refused. */
export function parseAnswerBody(body: unknown): { text: string; escalation?: number } | { error: string } {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return { error: 'The body must be a JSON object.' };
  const { text, escalation } = body as { text?: unknown; escalation?: unknown };
  if (typeof text !== 'string' || !text.trim()) return { error: '"text" must be a non-empty string.' };
  if (text.length > ANSWER_MAX_CHARS) return { error: `"text" is longer than ${ANSWER_MAX_CHARS} characters.` };
  if (escalation === undefined || escalation === null) return { text: text.trim() };
  if (typeof escalation !== 'number' || !Number.isInteger(escalation) || escalation < 1)
    return { error: '"escalation" must be the question\'s number (an integer ≥ 1).' };
  return { text: text.trim(), escalation };
}

/** The route `POST /api/v1/:identifier/answer` (mount behind the token door). */
export function answerRoutes(deps: AnswerDeps): Hono {
  const app = new Hono();
  app.post('/api/v1/:identifier/answer', async (c) => {
    const identifier = c.req.param('identifier');
    let raw: unknown;
    try {
      raw = JSON.parse(await c.req.text());
    } catch {
      return c.json(apiError('bad_request', 'The body is not JSON: send {"text": "...", "escalation"?: n}.'), 400);
    }
    const body = parseAnswerBody(raw);
    if ('error' in body) return c.json(apiError('bad_request', body.error), 400);
    const reply = { text: body.text, author: 'operator', source: 'dashboard' as const, mayApprove: true };
    try {
      const r = await deliverAnswer(
        deps.client,
        deps.deployment,
        identifier,
        reply,
        body.escalation === undefined ? {} : { escalation: body.escalation },
      );
      return c.json(
        redactDeep({ answered: true, escalation: r.escalation, option: r.option, question: r.question, line: r.line }),
      );
    } catch (err) {
      if (!(err instanceof ForemanError) || !(err.code in STATUS_OF)) throw err;
      const status = STATUS_OF[err.code as keyof typeof STATUS_OF];
      return c.json(apiError(err.code, redact(err.message)), status);
    }
  });
  app.all('/api/v1/:identifier/answer', (c) => c.json(apiError('method_not_allowed', 'Use POST.'), 405));
  return app;
}
