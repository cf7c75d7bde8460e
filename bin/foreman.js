#!/usr/bin/env node
// The `foreman` executable: runs the TypeScript sources through tsx (no build step), then the CLI.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
const code = await main(process.argv);
// Let pending I/O (logs, sockets) settle, but never hang on a stray handle.
process.exitCode = code;
setTimeout(() => process.exit(code), 2000).unref();
