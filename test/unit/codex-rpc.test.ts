/**
 * The codex backend's JSON-RPC framing (src/agents/backends/codex/rpc.ts) over in-memory streams,
 * and its mapping of thread items to transcript messages (./items.ts).
 */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { mapItem } from '../../src/agents/backends/codex/items.js';
import { RpcConnection, type ServerNotification, type ServerRequest } from '../../src/agents/backends/codex/rpc.js';

function connection(readTimeoutMs = 1_000) {
  const toServer = new PassThrough();
  const fromServer = new PassThrough();
  const sent: Record<string, unknown>[] = [];
  toServer.setEncoding('utf8');
  toServer.on('data', (chunk: string) => {
    for (const line of chunk.split('\n').filter(Boolean)) sent.push(JSON.parse(line) as Record<string, unknown>);
  });
  const seen = {
    notifications: [] as ServerNotification[],
    requests: [] as ServerRequest[],
    malformed: [] as string[],
  };
  const rpc = new RpcConnection(toServer, fromServer, readTimeoutMs, {
    onNotification: (n) => seen.notifications.push(n),
    onRequest: (r) => seen.requests.push(r),
    onActivity: () => undefined,
    onMalformed: (l) => seen.malformed.push(l),
  });
  const reply = (msg: unknown) => fromServer.write(JSON.stringify(msg) + '\n');
  return { rpc, sent, seen, reply, fromServer };
}

describe('codex JSON-RPC connection', () => {
  it('matches responses to requests by id, routes notifications and server requests, skips non-JSON lines', async () => {
    const c = connection();
    const a = c.rpc.request('initialize', { clientInfo: { name: 'foreman' } });
    const b = c.rpc.request('thread/start', {});
    await new Promise((r) => setImmediate(r));
    expect(c.sent.map((m) => [m.id, m.method, m.jsonrpc])).toEqual([
      [1, 'initialize', '2.0'],
      [2, 'thread/start', '2.0'],
    ]);
    c.reply({ id: 2, result: { thread: { id: 't' } } });
    c.fromServer.write('WARN something on stdout\n{"method":"turn/started","par');
    c.fromServer.write('ams":{}}\n');
    c.reply({ id: 7, method: 'item/commandExecution/requestApproval', params: { command: 'ls' } });
    c.reply({ id: 1, result: { userAgent: 'codex' } });
    await expect(b).resolves.toEqual({ thread: { id: 't' } });
    await expect(a).resolves.toEqual({ userAgent: 'codex' });
    expect(c.seen.notifications).toEqual([{ method: 'turn/started', params: {} }]);
    expect(c.seen.requests).toEqual([
      { id: 7, method: 'item/commandExecution/requestApproval', params: { command: 'ls' } },
    ]);
    expect(c.seen.malformed).toEqual(['WARN something on stdout']);
    c.rpc.respond(7, { decision: 'accept' });
    await new Promise((r) => setImmediate(r));
    expect(c.sent.at(-1)).toEqual({ jsonrpc: '2.0', id: 7, result: { decision: 'accept' } });
  });

  it('fails a request on an error answer, past read_timeout_ms, and when the output ends', async () => {
    const c = connection(100);
    const err = c.rpc.request('thread/resume', { threadId: 'gone' });
    c.reply({ id: 1, error: { code: -32600, message: 'no rollout found' } });
    await expect(err).rejects.toMatchObject({
      code: 'agent_protocol_error',
      retryable: true,
      message: /no rollout found/,
    });
    await expect(c.rpc.request('turn/start', {})).rejects.toMatchObject({ message: /read_timeout_ms 100/ });
    const pending = c.rpc.request('turn/start', {});
    c.fromServer.end();
    await expect(pending).rejects.toMatchObject({ code: 'agent_protocol_error', message: /closed its output/ });
    await expect(c.rpc.request('initialize', {})).rejects.toMatchObject({ code: 'agent_protocol_error' });
  });
});

describe('codex items in the transcript', () => {
  it('maps commands, file changes and MCP calls to tool_use + tool_result pairs, messages to text', () => {
    const cmd = mapItem({
      type: 'commandExecution',
      id: 'c1',
      command: 'npm test',
      cwd: '/ws',
      aggregatedOutput: 'fail',
      exitCode: 1,
      status: 'completed',
    });
    expect(cmd.tool).toBe('exec_command');
    expect(cmd.messages).toEqual([
      {
        role: 'assistant',
        content: [{ type: 'tool_use', id: 'c1', name: 'exec_command', input: { command: 'npm test', cwd: '/ws' } }],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'c1', content: 'fail\n[exit code 1, completed]', is_error: true },
        ],
      },
    ]);
    const mcp = mapItem({
      type: 'mcpToolCall',
      id: 'm1',
      server: 'foreman',
      tool: 'finish',
      arguments: { summary: 's' },
      result: { content: [{ type: 'text', text: 'ok' }] },
      error: null,
    });
    expect(mcp.tool).toBe('foreman.finish');
    expect(mcp.messages[1]).toEqual({
      role: 'user',
      content: [{ type: 'tool_result', tool_use_id: 'm1', content: 'ok' }],
    });
    const patch = mapItem({
      type: 'fileChange',
      id: 'f1',
      changes: [{ path: 'a.js', kind: { type: 'update' }, diff: '…' }],
      status: 'completed',
    });
    expect(patch.messages[0]!.content[0]).toMatchObject({
      name: 'apply_patch',
      input: { changes: [{ path: 'a.js' }] },
    });
    expect(mapItem({ type: 'agentMessage', id: 'a', text: 'Done.' })).toEqual({
      messages: [{ role: 'assistant', content: [{ type: 'text', text: 'Done.' }] }],
      tool: null,
      agentText: 'Done.',
    });
    expect(mapItem({ type: 'reasoning', id: 'r' }).messages).toEqual([]);
    expect(mapItem({ type: 'userMessage', id: 'u', content: [] }).messages).toEqual([]);
  });
});
