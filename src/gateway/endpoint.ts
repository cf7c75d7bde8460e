/**
 * Where the model gateway (./gateway.ts) can be reached, and the names its clients share: the
 * sandbox side (src/sandbox/spawn.ts), the harness (its error header). Types and constants only,
 * so importing it pulls in nothing.
 */

/** Where the gateway listens. */
export interface GatewayEndpoint {
  /** `http://127.0.0.1:<port>`: for agents on the host. */
  hostUrl: string;
  /** Host directory holding `gateway.sock` and the forwarder script; bound into sandboxes. */
  socketDir: string;
}

/** Loopback port inside a sandbox where the forwarder serves the gateway (src/sandbox/spawn.ts). */
export const SANDBOX_GATEWAY_PORT = 4180;
/** Where the gateway's socket directory appears inside a sandbox. */
export const SANDBOX_GATEWAY_DIR = '/run/foreman-gateway';
/** File name of the gateway's unix socket in its directory. */
export const GATEWAY_SOCKET = 'gateway.sock';

/** Marks the gateway's own error answers (value: `budget_exhausted`, `outcome_recorded`, `upstream_unreachable`, `unauthorized`). */
export const GATEWAY_ERROR_HEADER = 'x-foreman-gateway-error';
