/**
 * JSON-RPC 2.0 over the Codex app server's stdio: one JSON object per line in each direction
 * (specs/backends.md, "codex"). Owns the framing, request ids, the per-request read timeout and the
 * routing of what the server sends (responses to our requests, notifications, and the server's own
 * requests such as approvals, which the caller answers). Not the protocol's meaning (./session.ts).
 */
import type { Readable, Writable } from 'node:stream';
import { ForemanError } from '../../../errors.js';

/** A JSON-RPC request id. */
export type RpcId = string | number;

/** A request the app server sends us (an approval, a user-input request…). */
export interface ServerRequest {
  id: RpcId;
  method: string;
  params: unknown;
}

/** A notification the app server sends us (`turn/completed`, `item/completed`…). */
export interface ServerNotification {
  method: string;
  params: unknown;
}

/** Longest line accepted from the app server, bytes (a bigger one ends the connection). */
export const MAX_LINE_BYTES = 10 * 1024 * 1024;

/** What the connection calls back with. */
export interface RpcHandlers {
  onNotification(n: ServerNotification): void;
  onRequest(r: ServerRequest): void;
  /** Any line at all arrived (stall detection). */
  onActivity(): void;
  /** A line that is not a JSON-RPC message (kept for diagnostics, never acted on). */
  onMalformed?(line: string): void;
}

/**
 * One JSON-RPC connection over a child's stdin/stdout. `request` rejects with a retryable
 * `ForemanError` `agent_protocol_error` when the server answers with an error, does not answer
 * within `readTimeoutMs`, or the stream ends first.
 */
export class RpcConnection {
  private nextId = 1;
  private readonly pending = new Map<
    RpcId,
    { resolve(v: unknown): void; reject(e: unknown): void; timer: NodeJS.Timeout; method: string }
  >();
  private buffer = '';
  private closedWith: Error | null = null;

  constructor(
    private readonly input: Writable,
    output: Readable,
    private readonly readTimeoutMs: number,
    private readonly handlers: RpcHandlers,
  ) {
    output.setEncoding('utf8');
    output.on('data', (chunk: string) => this.onData(chunk));
    output.on('end', () => this.close(new Error('the app server closed its output')));
    output.on('error', (err) => this.close(err));
    input.on('error', (err) => this.close(err));
  }

  /** Sends a request and resolves with its `result`. */
  request(method: string, params: unknown): Promise<unknown> {
    if (this.closedWith) return Promise.reject(this.failure(method, this.closedWith.message));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(this.failure(method, `no response within read_timeout_ms ${this.readTimeoutMs}`));
      }, this.readTimeoutMs);
      timer.unref();
      this.pending.set(id, { resolve, reject, timer, method });
      this.write({ id, method, params });
    });
  }

  /** Sends a notification (no answer expected). */
  notify(method: string, params?: unknown): void {
    this.write(params === undefined ? { method } : { method, params });
  }

  /** Answers a server request with a result. */
  respond(id: RpcId, result: unknown): void {
    this.write({ id, result });
  }

  /** Answers a server request with an error. */
  respondError(id: RpcId, code: number, message: string): void {
    this.write({ id, error: { code, message } });
  }

  /** Fails every pending request (the process ended); later requests fail at once. */
  close(err: Error): void {
    if (this.closedWith) return;
    this.closedWith = err;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(this.failure(p.method, err.message));
      this.pending.delete(id);
    }
  }

  private failure(method: string, why: string): ForemanError {
    return new ForemanError('agent_protocol_error', `Codex app server request ${method} failed: ${why}.`, {
      retryable: true,
    });
  }

  private write(message: Record<string, unknown>): void {
    if (this.closedWith) return;
    this.input.write(JSON.stringify({ jsonrpc: '2.0', ...message }) + '\n');
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let cut: number;
    while ((cut = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, cut).trim();
      this.buffer = this.buffer.slice(cut + 1);
      if (line) this.onLine(line);
    }
    if (this.buffer.length > MAX_LINE_BYTES) {
      this.buffer = '';
      this.close(new Error(`a line longer than ${MAX_LINE_BYTES} bytes`));
    }
  }

  private onLine(line: string): void {
    this.handlers.onActivity();
    let msg: { id?: RpcId; method?: unknown; params?: unknown; result?: unknown; error?: { message?: unknown } };
    try {
      msg = JSON.parse(line) as typeof msg;
    } catch {
      this.handlers.onMalformed?.(line);
      return;
    }
    if (typeof msg !== 'object' || msg === null) return this.handlers.onMalformed?.(line);
    if (typeof msg.method === 'string') {
      if (msg.id !== undefined) this.handlers.onRequest({ id: msg.id, method: msg.method, params: msg.params });
      else this.handlers.onNotification({ method: msg.method, params: msg.params });
      return;
    }
    if (msg.id === undefined) return this.handlers.onMalformed?.(line);
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    clearTimeout(p.timer);
    if (msg.error !== undefined)
      p.reject(this.failure(p.method, String(msg.error?.message ?? JSON.stringify(msg.error))));
    else p.resolve(msg.result);
  }
}
