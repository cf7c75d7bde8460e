/**
 * The tracker exit of the redactor: a `Tracker` whose every write (comment bodies, filed issues'
 * titles and descriptions, pull-request link titles) passes through `redact` (src/redact.ts)
 * before it reaches the adapter. `createTracker` wraps every adapter in it, so no text Foreman
 * posts on an issue — evidence, escalations, notices, a failing hook's output — bypasses it.
 */
import { redact as defaultRedact, type Redactor } from '../redact.js';
import type { NewIssue, Tracker } from './types.js';

/**
 * Wraps `inner` so its writes are redacted; reads, `watch` and any adapter-specific members
 * (e.g. the local tracker's `path`) pass through unchanged (a Proxy over the adapter).
 * @param redact The redactor. (Default: the process's `redact`)
 */
export function redactingTracker<T extends Tracker>(inner: T, redact: Redactor = defaultRedact): T {
  const writes: Partial<Tracker> = {
    upsertComment: (issueId, key, body) => inner.upsertComment(issueId, key, redact(body)),
    ...(inner.linkPullRequest
      ? {
          linkPullRequest: (issueId: string, url: string, title: string) =>
            inner.linkPullRequest!(issueId, url, redact(title)),
        }
      : {}),
    ...(inner.createIssue
      ? {
          createIssue: (issue: NewIssue) =>
            inner.createIssue!({
              ...issue,
              title: redact(issue.title),
              ...(issue.description !== undefined ? { description: redact(issue.description) } : {}),
            }),
        }
      : {}),
  };
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (typeof prop === 'string' && prop in writes) return writes[prop as keyof Tracker];
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
