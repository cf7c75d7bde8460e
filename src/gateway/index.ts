/**
 * The model gateway of this process (specs/gateway.md): started once, on first use (the worker
 * starts it when it starts, src/temporal/worker.ts), shared by every role step the process runs.
 */
import { startGateway, type Gateway } from './gateway.js';

export { startGateway, type Gateway, type GatewayExchange } from './gateway.js';
export {
  GATEWAY_ERROR_HEADER,
  GATEWAY_SOCKET,
  SANDBOX_GATEWAY_DIR,
  SANDBOX_GATEWAY_PORT,
  type GatewayEndpoint,
} from './endpoint.js';
export type { OpenSessionInput } from './session.js';
export type { GatewayUpstream, UpstreamEndpoint } from './upstream.js';

let shared: Promise<Gateway> | null = null;

/** This process's gateway, started on the first call. A failed start is retried on the next call. */
export function sharedGateway(): Promise<Gateway> {
  shared ??= startGateway().catch((err: unknown) => {
    shared = null;
    throw err;
  });
  return shared;
}
