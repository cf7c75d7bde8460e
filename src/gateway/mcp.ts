/**
 * The per-session MCP endpoint (streamable HTTP, stateless; specs/gateway.md, "Outcome tools over
 * MCP"): it serves a role's outcome tools, `finish`, `escalate` and `submit_review` (the reviewer
 * only), with the names, descriptions and JSON schemas of src/agents/tools.ts, so every backend's
 * agent ends a step the same way. The first valid call is the step's outcome; its result text is
 * the built-in tool's (e.g. ESCALATED_TOOL_RESULT) and tells the agent to stop; later calls are
 * refused with an error result. Input is validated by the same zod schemas (hostile input: a bad
 * call is an error result, never an outcome).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CallToolRequestSchema, ListToolsRequestSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { ToolError } from '../errors.js';
import type { OutcomeCall } from '../agents/backends/types.js';
import { createToolbox, toolSets, type ToolControl, type ToolName } from '../agents/tools.js';
import type { AgentRole } from '../agents/usage.js';

/** The outcome tools (those that end a step). */
export const OUTCOME_TOOLS = ['finish', 'escalate', 'submit_review'] as const satisfies readonly ToolName[];

/** The outcome tool names `role` gets (src/agents/tools.ts `toolSets`, in that order). */
export function outcomeToolsOf(role: AgentRole): ToolName[] {
  return (toolSets[role] as readonly ToolName[]).filter((n) => (OUTCOME_TOOLS as readonly string[]).includes(n));
}

/** What the endpoint needs from its session. */
export interface McpSessionHooks {
  role: AgentRole;
  /**
   * Records a valid outcome call; returns the earlier outcome instead when there was one (the call
   * is then refused).
   */
  record(call: OutcomeCall): OutcomeCall | null;
}

function outcomeOf(control: ToolControl): OutcomeCall {
  switch (control.kind) {
    case 'finish':
      return { tool: 'finish', summary: control.summary };
    case 'escalate':
      return { tool: 'escalate', escalation: control.escalation };
    case 'review':
      return { tool: 'submit_review', review: control.review };
  }
}

/** An MCP server answering one request (stateless mode builds one per request). */
function mcpServer(hooks: McpSessionHooks): Server {
  const names = outcomeToolsOf(hooks.role);
  // The outcome tools touch no workspace: the toolbox is built only for their definitions and validation.
  const toolbox = createToolbox(hooks.role, { workspace: '/nonexistent', env: {} });
  const tools = toolbox.definitions
    .filter((d) => (names as string[]).includes(d.name))
    .map((d) => ({ name: d.name, description: d.description, inputSchema: d.input_schema }));
  const server = new Server({ name: 'foreman', version: '1' }, { capabilities: { tools: {} } });
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools }));
  server.setRequestHandler(CallToolRequestSchema, async (request): Promise<CallToolResult> => {
    const { name, arguments: args } = request.params;
    const error = (text: string): CallToolResult => ({ content: [{ type: 'text', text }], isError: true });
    if (!(names as string[]).includes(name)) {
      return error(`Unknown tool '${name}'. Available tools: ${names.join(', ')}.`);
    }
    let out;
    try {
      out = await toolbox.execute(name, args ?? {});
    } catch (err) {
      if (err instanceof ToolError) return error(err.message);
      throw err;
    }
    if (!out.control) return error(`${name} did not record an outcome.`);
    const prior = hooks.record(outcomeOf(out.control));
    if (prior) return error(`Not recorded: an earlier ${prior.tool} call already ended this step. Stop now.`);
    return { content: [{ type: 'text', text: out.content }] };
  });
  return server;
}

/**
 * Answers one HTTP request to the session's MCP endpoint (`body`: the parsed JSON, or undefined).
 * Closes the per-request server when the response ends.
 */
export async function handleMcpRequest(
  hooks: McpSessionHooks,
  req: IncomingMessage,
  res: ServerResponse,
  body: unknown,
): Promise<void> {
  const server = mcpServer(hooks);
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
  res.on('close', () => {
    void transport.close();
    void server.close();
  });
  await server.connect(transport);
  await transport.handleRequest(req, res, body);
}
