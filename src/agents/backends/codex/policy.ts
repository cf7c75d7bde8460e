/**
 * How Foreman answers the Codex app server's requests (specs/backends.md, "codex", Approvals):
 * approvals by a fixed rule, user-input requests turned into escalations, everything else refused
 * so no request leaves a turn waiting. Pure: the session (./session.ts) sends what this decides.
 */
import type { EscalateInput } from '../../tools.js';

/** The outcome server name Foreman's MCP tools are configured under in codex. */
export const FOREMAN_MCP_SERVER = 'foreman';

/** What to do with one server request. */
export type RequestDecision =
  /** Answer with this JSON-RPC result. */
  | { kind: 'result'; result: unknown; note: string }
  /** Answer with a JSON-RPC error (an unsupported request). */
  | { kind: 'error'; message: string }
  /** The agent asked a human: end the turn and escalate with this question. */
  | { kind: 'escalate'; escalation: EscalateInput };

/** What the approval rule depends on. */
export interface ApprovalContext {
  /** Symphony `codex.approval_policy` as configured (`never` means codex should never ask). */
  approvalPolicy: unknown;
  /** True when the app server runs inside Foreman's bubblewrap sandbox (`sandbox.mode: bwrap`). */
  sandboxed: boolean;
  /** Absolute workspace path (a file-change approval may not grant a root outside it). */
  workspace: string;
}

function isInside(child: string, parent: string): boolean {
  const c = child.replace(/\/+$/, '');
  const p = parent.replace(/\/+$/, '');
  return c === p || c.startsWith(`${p}/`);
}

/**
 * The answer to a server request `method` with `params` (Codex app-server protocol of the pinned
 * version). The rule: a command or a file change is accepted once (never "for the session") when
 * the app server runs inside Foreman's sandbox and `approval_policy` is not `never`, since the
 * sandbox bounds what it can do whatever codex's own sandbox says; it is declined otherwise, and
 * so is anything that would widen the walls (extra permissions, network-policy amendments, a
 * write root outside the workspace). Foreman's own MCP tools are approved; other MCP
 * elicitations are declined. A user-input request becomes an escalation. Unknown requests get a
 * JSON-RPC error, so the turn never waits on them.
 */
export function decideRequest(method: string, params: unknown, ctx: ApprovalContext): RequestDecision {
  const p = (params ?? {}) as Record<string, unknown>;
  const allowed = ctx.sandboxed && ctx.approvalPolicy !== 'never';
  const why = allowed
    ? 'accepted: it runs inside Foreman sandbox'
    : ctx.sandboxed
      ? 'declined: approval_policy is never'
      : 'declined: sandbox.mode is none';
  switch (method) {
    case 'item/commandExecution/requestApproval':
      return { kind: 'result', result: { decision: allowed ? 'accept' : 'decline' }, note: `command ${why}` };
    case 'item/fileChange/requestApproval': {
      const root = typeof p.grantRoot === 'string' ? p.grantRoot : null;
      if (root && !isInside(root, ctx.workspace)) {
        return {
          kind: 'result',
          result: { decision: 'decline' },
          note: `file change declined: root ${root} is outside the workspace`,
        };
      }
      return { kind: 'result', result: { decision: allowed ? 'accept' : 'decline' }, note: `file change ${why}` };
    }
    case 'execCommandApproval':
    case 'applyPatchApproval':
      return {
        kind: 'result',
        result: { decision: allowed ? 'approved' : { denied: { rejection: 'Foreman declined this request.' } } },
        note: `${method} ${why}`,
      };
    case 'item/permissions/requestApproval':
      return { kind: 'error', message: 'Foreman does not grant extra permissions; work inside the workspace.' };
    case 'mcpServer/elicitation/request': {
      const action = p.serverName === FOREMAN_MCP_SERVER ? 'accept' : 'decline';
      return { kind: 'result', result: { action, content: null, _meta: null }, note: `MCP elicitation ${action}` };
    }
    case 'item/tool/requestUserInput':
      return userInput(p);
    default:
      return { kind: 'error', message: `Foreman does not handle ${method}.` };
  }
}

/** A tool-approval question codex asks about an MCP tool call, by the id prefix it uses. */
const MCP_APPROVAL_PREFIX = 'mcp_tool_call_approval_';

function userInput(p: Record<string, unknown>): RequestDecision {
  const questions = Array.isArray(p.questions) ? (p.questions as Record<string, unknown>[]) : [];
  // codex routes MCP tool approvals through this request too: approve Foreman's own tools only.
  if (questions.length > 0 && questions.every((q) => String(q.id ?? '').startsWith(MCP_APPROVAL_PREFIX))) {
    const answers: Record<string, { answers: string[] }> = {};
    for (const q of questions) {
      const labels = Array.isArray(q.options)
        ? (q.options as { label?: unknown }[]).map((o) => String(o.label ?? ''))
        : [];
      const foreman = JSON.stringify(q).includes(FOREMAN_MCP_SERVER);
      const pick = foreman
        ? (labels.find((l) => /^approve once$/i.test(l)) ?? labels.find((l) => /^(approve|allow)/i.test(l)))
        : labels.find((l) => /^(decline|deny|reject|cancel)/i.test(l));
      answers[String(q.id)] = { answers: pick ? [pick] : [] };
    }
    return { kind: 'result', result: { answers }, note: 'MCP tool approval answered' };
  }
  const text = (v: unknown) => (typeof v === 'string' ? v.trim() : '');
  const parts = questions.map((q) => [text(q.header), text(q.question)].filter(Boolean).join(': ')).filter(Boolean);
  const options = questions.flatMap((q) =>
    Array.isArray(q.options) ? (q.options as { label?: unknown }[]).map((o) => text(o.label)).filter(Boolean) : [],
  );
  const question = parts.join('\n') || 'The agent asked for input without a question.';
  return { kind: 'escalate', escalation: { question, ...(options.length > 0 ? { options } : {}) } };
}
