/**
 * The egress proxy of `sandbox.network: allowlist`. A sandboxed command has an empty network
 * namespace (only its own loopback), so nothing it does reaches the host or the internet directly.
 * Foreman runs this HTTP forward + CONNECT proxy outside the sandbox, listening on a unix socket in
 * a fresh directory that is bound read-only into the sandbox; inside, a tiny forwarder
 * (./forwarder.ts, run by the sandbox's Node) listens on 127.0.0.1:3128 of the sandbox's private
 * loopback, pipes each connection to that socket and runs the command with HTTP(S)_PROXY pointing
 * at it. The proxy connects only to `allow_hosts` entries and records every other destination.
 *
 * Only proxy-aware clients (curl, git, npm, pip, go…) get out; raw sockets and DNS have no route.
 * Owns the proxy; not the forwarder (./forwarder.ts) nor the mount plan (./bwrap.ts).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { SANDBOX_EGRESS_DIR } from './bwrap.js';
import { FORWARDER_FILE, FORWARDER_SCRIPT, type ForwardedPort } from './forwarder.js';

/** Loopback port the in-sandbox forwarder listens on (the sandbox's own loopback). */
export const SANDBOX_PROXY_PORT = 3128;

/** A running egress proxy for one command. */
export interface EgressProxy {
  /** Host directory with `proxy.sock` and `forwarder.cjs`; bind it at {@link SANDBOX_EGRESS_DIR}. */
  dir: string;
  /** `host:port` of every refused destination, in order, without repeats. */
  denied: string[];
  /** The loopback port the forwarder (./forwarder.ts, in `dir`) must serve inside the sandbox. */
  ports: ForwardedPort[];
  /** The proxy variables to set inside the sandbox. */
  env: Record<string, string>;
  /** Stops listening, ends open tunnels and removes `dir`. */
  close(): Promise<void>;
}

/** Parses `host`, `host:port`, `[v6]:port`; port null when absent. */
function parseHostPort(text: string): { host: string; port: number | null } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(text) ?? /^([^:]+)(?::(\d+))?$/.exec(text);
  if (!m) return { host: text.toLowerCase(), port: null };
  return { host: m[1]!.toLowerCase(), port: m[2] ? Number(m[2]) : null };
}

/**
 * True when `host:port` is allowed by an entry of `allowHosts`: `host` (any port), `host:port`, or
 * `*.domain` (any subdomain of domain, optionally `:port`). Hosts compare case-insensitively.
 */
export function isAllowedHost(allowHosts: readonly string[], host: string, port: number): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return allowHosts.some((entry) => {
    const e = parseHostPort(entry.trim());
    if (e.port !== null && e.port !== port) return false;
    if (e.host.startsWith('*.')) return h.endsWith(e.host.slice(1));
    return e.host === h;
  });
}

/**
 * Starts the proxy on a unix socket in a new private directory under the OS temp dir. `onDenied`
 * is called once per refused request (`host:port`), e.g. to log it.
 */
export async function startEgressProxy(opts: {
  allowHosts: readonly string[];
  onDenied?: (destination: string) => void;
}): Promise<EgressProxy> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'foreman-egress-'));
  writeFileSync(path.join(dir, FORWARDER_FILE), FORWARDER_SCRIPT, { mode: 0o644 });
  const denied: string[] = [];
  const sockets = new Set<net.Socket>();
  const check = (host: string, port: number): boolean => {
    if (isAllowedHost(opts.allowHosts, host, port)) return true;
    const dest = `${host}:${port}`;
    if (!denied.includes(dest)) denied.push(dest);
    opts.onDenied?.(dest);
    return false;
  };
  const server = http.createServer((req, res) => forwardPlain(req, res, check));
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    sockets.add(client);
    client.once('close', () => sockets.delete(client));
    tunnel(req, client, head, check, sockets);
  });
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  const sock = path.join(dir, 'proxy.sock');
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(sock, () => resolve());
  });
  const url = `http://127.0.0.1:${SANDBOX_PROXY_PORT}`;
  return {
    dir,
    denied,
    ports: [{ port: SANDBOX_PROXY_PORT, socket: `${SANDBOX_EGRESS_DIR}/proxy.sock` }],
    env: { HTTP_PROXY: url, HTTPS_PROXY: url, http_proxy: url, https_proxy: url },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** CONNECT host:port → a TCP tunnel when allowed, else 403. */
function tunnel(
  req: http.IncomingMessage,
  client: net.Socket,
  head: Buffer,
  check: (host: string, port: number) => boolean,
  sockets: Set<net.Socket>,
): void {
  const { host, port } = parseHostPort(req.url ?? '');
  client.on('error', () => client.destroy());
  if (!host || port === null || !check(host, port)) {
    client.end(
      'HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\n\r\nForeman sandbox: destination not in sandbox.allow_hosts\n',
    );
    return;
  }
  const upstream = net.connect(port, host, () => {
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length) upstream.write(head);
    upstream.pipe(client).pipe(upstream);
  });
  sockets.add(upstream);
  upstream.once('close', () => {
    sockets.delete(upstream);
    client.destroy();
  });
  upstream.on('error', () => {
    if (!client.destroyed) client.end('HTTP/1.1 502 Bad Gateway\r\n\r\n');
  });
}

/** A plain-HTTP proxy request (absolute URL) → forwarded when allowed, else 403. */
function forwardPlain(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  check: (host: string, port: number) => boolean,
): void {
  let target: URL;
  try {
    target = new URL(req.url ?? '');
  } catch {
    res.writeHead(400).end('Foreman sandbox proxy: absolute http:// URL expected\n');
    return;
  }
  const port = Number(target.port || (target.protocol === 'https:' ? 443 : 80));
  const host = target.hostname.replace(/^\[|\]$/g, '');
  if (target.protocol !== 'http:' || !check(host, port)) {
    res
      .writeHead(403, { 'content-type': 'text/plain' })
      .end('Foreman sandbox: destination not in sandbox.allow_hosts\n');
    return;
  }
  const headers = { ...req.headers };
  delete headers['proxy-connection'];
  delete headers['proxy-authorization'];
  const up = http.request(
    { host, port, method: req.method, path: `${target.pathname}${target.search}`, headers },
    (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
    },
  );
  up.on('error', () => {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  });
  req.pipe(up);
}
