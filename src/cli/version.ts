/** Foreman's version, as `foreman --version` prints it: the `version` of the package's package.json. */
import { readFileSync } from 'node:fs';

/** The `version` field of Foreman's package.json (read once per call; the file ships with the package). */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
}
