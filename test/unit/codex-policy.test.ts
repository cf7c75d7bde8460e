/**
 * How the codex backend answers the app server's requests (src/agents/backends/codex/policy.ts):
 * approvals by the documented rule, user input as an escalation, unknown requests refused.
 */
import { describe, expect, it } from 'vitest';
import { decideRequest } from '../../src/agents/backends/codex/policy.js';

const ws = '/work/ws/DEMO-1';
const sandboxed = { approvalPolicy: 'untrusted', sandboxed: true, workspace: ws };

describe('codex request policy', () => {
  it('accepts a command or file change once inside the sandbox, never for the session', () => {
    expect(decideRequest('item/commandExecution/requestApproval', { command: 'npm test' }, sandboxed)).toMatchObject({
      kind: 'result',
      result: { decision: 'accept' },
    });
    expect(decideRequest('item/fileChange/requestApproval', {}, sandboxed)).toMatchObject({
      result: { decision: 'accept' },
    });
    expect(decideRequest('execCommandApproval', {}, sandboxed)).toMatchObject({ result: { decision: 'approved' } });
  });

  it('declines without the sandbox, under approval_policy never, and for a write root outside the workspace', () => {
    const none = { ...sandboxed, sandboxed: false };
    expect(decideRequest('item/commandExecution/requestApproval', {}, none)).toMatchObject({
      result: { decision: 'decline' },
    });
    expect(
      decideRequest('item/fileChange/requestApproval', {}, { ...sandboxed, approvalPolicy: 'never' }),
    ).toMatchObject({
      result: { decision: 'decline' },
    });
    expect(decideRequest('item/fileChange/requestApproval', { grantRoot: '/etc' }, sandboxed)).toMatchObject({
      result: { decision: 'decline' },
    });
    expect(decideRequest('item/fileChange/requestApproval', { grantRoot: `${ws}-evil` }, sandboxed)).toMatchObject({
      result: { decision: 'decline' },
    });
    expect(decideRequest('applyPatchApproval', {}, none)).toMatchObject({ result: { decision: { denied: {} } } });
  });

  it('never grants extra permissions and refuses unknown requests with an error', () => {
    expect(decideRequest('item/permissions/requestApproval', {}, sandboxed).kind).toBe('error');
    expect(decideRequest('item/tool/call', { tool: 'x' }, sandboxed).kind).toBe('error');
    expect(decideRequest('account/chatgptAuthTokens/refresh', {}, sandboxed).kind).toBe('error');
  });

  it("approves MCP elicitations and tool approvals of Foreman's server only", () => {
    expect(decideRequest('mcpServer/elicitation/request', { serverName: 'foreman' }, sandboxed)).toMatchObject({
      result: { action: 'accept' },
    });
    expect(decideRequest('mcpServer/elicitation/request', { serverName: 'other' }, sandboxed)).toMatchObject({
      result: { action: 'decline' },
    });
    const approval = (server: string) => ({
      questions: [
        {
          id: 'mcp_tool_call_approval_1',
          header: 'Approve',
          question: `Allow ${server} to run tool?`,
          options: [{ label: 'Approve Once' }, { label: 'Decline' }],
        },
      ],
    });
    expect(decideRequest('item/tool/requestUserInput', approval('foreman'), sandboxed)).toMatchObject({
      result: { answers: { mcp_tool_call_approval_1: { answers: ['Approve Once'] } } },
    });
    expect(decideRequest('item/tool/requestUserInput', approval('github'), sandboxed)).toMatchObject({
      result: { answers: { mcp_tool_call_approval_1: { answers: ['Decline'] } } },
    });
  });

  it('turns a user-input request into an escalation with its questions and option labels', () => {
    const d = decideRequest(
      'item/tool/requestUserInput',
      {
        questions: [
          { id: 'a', header: 'DB', question: 'Which database?', options: [{ label: 'Postgres' }, { label: 'SQLite' }] },
          { id: 'b', header: '', question: 'Keep the old table?', options: null },
        ],
      },
      sandboxed,
    );
    expect(d).toEqual({
      kind: 'escalate',
      escalation: { question: 'DB: Which database?\nKeep the old table?', options: ['Postgres', 'SQLite'] },
    });
    expect(decideRequest('item/tool/requestUserInput', {}, sandboxed)).toMatchObject({
      kind: 'escalate',
      escalation: { question: 'The agent asked for input without a question.' },
    });
  });
});
