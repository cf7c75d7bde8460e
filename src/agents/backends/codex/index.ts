/**
 * The `codex` agent backend (specs/backends.md, "codex"): Codex's app server over JSON-RPC on
 * stdio, one thread per role per issue. The registry (src/agents/backends/index.ts) builds it from
 * the role's settings.
 */
export { codexBackend, runCodex, CONTINUE_TEXT, type CodexSettings } from './session.js';
export { decideRequest, FOREMAN_MCP_SERVER } from './policy.js';
export { codexHomeOf, readThreadState, threadStatePath, GATEWAY_TOKEN_ENV } from './home.js';
