/** How an activity failure reads in a status line, an escalation and the log. */
import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';

/** A one-line reason from an activity failure: type, stable code (when Foreman gave one) and message, no trailing period. */
export function describeFailure(err: unknown): string {
  let e: unknown = err;
  if (e instanceof ActivityFailure && e.cause) e = e.cause;
  const text = (m: string) => m.trim().replace(/\.+$/, '');
  if (e instanceof ApplicationFailure) {
    const code = typeof e.details?.[0] === 'string' ? ` [${e.details[0]}]` : '';
    return `${e.type ?? 'Error'}${code}: ${text(e.message)}`;
  }
  if (e instanceof Error) return text(e.message);
  return String(e);
}
