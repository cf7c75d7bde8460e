/**
 * A `fetch` for the model client that gives up on a response that goes quiet: when no bytes
 * arrive for `idleMs` (before the headers, or between chunks of the body), the request is aborted
 * with ModelError `model_stalled`, which the SDK and then Temporal retry. The SDK's own timeout
 * bounds a whole request (`model.timeout_ms`, ten minutes by default); this bounds silence.
 */
import { ModelError } from '../errors.js';

/** The fetch signature the Anthropic SDK accepts. */
export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/**
 * Wraps `base` so a request with no bytes for `idleMs` ms is aborted.
 * @throws ModelError `model_stalled` (retryable) from the fetch or from reading the body.
 */
export function idleTimeoutFetch(idleMs: number, base: FetchLike = fetch): FetchLike {
  return async (input, init = {}) => {
    const ctrl = new AbortController();
    const outer = init.signal ?? null;
    const forward = () => ctrl.abort(outer?.reason);
    if (outer?.aborted) forward();
    outer?.addEventListener('abort', forward, { once: true });
    const stalled = new ModelError('model_stalled', `The model endpoint sent nothing for ${idleMs} ms; retrying.`);
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => ctrl.abort(stalled), idleMs);
    };
    const done = () => {
      clearTimeout(timer);
      outer?.removeEventListener('abort', forward);
    };
    const why = (err: unknown) => (ctrl.signal.reason === stalled ? stalled : err);
    arm();
    let res: Response;
    try {
      res = await base(input, { ...init, signal: ctrl.signal });
    } catch (err) {
      done();
      throw why(err);
    }
    if (!res.body) {
      done();
      return res;
    }
    arm();
    const reader = res.body.getReader();
    const body = new ReadableStream<Uint8Array>({
      async pull(c) {
        try {
          const { done: end, value } = await reader.read();
          if (end) {
            done();
            c.close();
            return;
          }
          arm();
          c.enqueue(value);
        } catch (err) {
          done();
          c.error(why(err));
        }
      },
      cancel(reason) {
        done();
        return reader.cancel(reason);
      },
    });
    return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
}
