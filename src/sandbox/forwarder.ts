/**
 * The in-sandbox forwarder: a sandboxed command has an empty network namespace (only its own
 * loopback), so Foreman's services outside it (the allowlist egress proxy, ./egress-proxy.ts; the
 * model gateway, src/gateway/) listen on unix sockets in directories bound into the sandbox, and
 * this tiny script, run by the sandbox's Node before the command, listens on fixed loopback ports
 * inside and pipes each connection to its socket. It then runs the command and exits with its
 * status. Dependency-free CommonJS, so any Node can run it.
 *
 * Usage inside: `node forwarder.cjs <port>=<socket> [<port>=<socket>…] -- <argv…>`.
 */

/** File name of the script in a bound directory. */
export const FORWARDER_FILE = 'forwarder.cjs';

/** The script's text. */
export const FORWARDER_SCRIPT = `'use strict';
const net = require('node:net');
const { spawn } = require('node:child_process');
const args = process.argv.slice(2);
const sep = args.indexOf('--');
const maps = args.slice(0, sep).map((m) => { const i = m.indexOf('='); return [Number(m.slice(0, i)), m.slice(i + 1)]; });
const argv = args.slice(sep + 1);
let pending = maps.length;
const run = () => {
  const child = spawn(argv[0], argv.slice(1), { stdio: 'inherit' });
  child.on('error', (e) => { process.stderr.write('forwarder: ' + e.message + '\\n'); process.exit(127); });
  for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(s, () => child.kill(s));
  child.on('exit', (code, signal) => process.exit(code === null ? 128 + (require('node:os').constants.signals[signal] || 1) : code));
};
for (const [port, sock] of maps) {
  const server = net.createServer((c) => {
    const up = net.connect(sock);
    c.pipe(up).pipe(c);
    const end = () => { c.destroy(); up.destroy(); };
    c.on('error', end); up.on('error', end);
  });
  server.on('error', (e) => { process.stderr.write('forwarder: ' + e.message + '\\n'); process.exit(126); });
  server.listen(port, '127.0.0.1', () => { if (--pending === 0) run(); });
}
if (maps.length === 0) run();
`;

/** One loopback port inside the sandbox piped to a unix socket (its path as seen inside). */
export interface ForwardedPort {
  port: number;
  socket: string;
}

/** The argv prefix that runs a command behind the forwarder at `scriptInside` (its path inside the sandbox). */
export function forwarderArgv(scriptInside: string, ports: readonly ForwardedPort[]): string[] {
  return [process.execPath, scriptInside, ...ports.map((p) => `${p.port}=${p.socket}`), '--'];
}
