/**
 * Finds a Chromium for the dashboard's browser tests (playwright-core drives it; it downloads none):
 * `CHROMIUM_PATH`, else `/usr/bin/chromium`, else `chromium` or `chromium-browser` on PATH.
 * scripts/install-test-deps installs Debian's `chromium` when root. A test skips only when none is
 * found and `FOREMAN_REQUIRE_BROWSER` is unset (.ci/run sets it, so CI fails instead).
 */
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The path of a Chromium executable, or null. */
export function findChromium(env: NodeJS.ProcessEnv = process.env): string | null {
  const fromEnv = env.CHROMIUM_PATH?.trim();
  if (fromEnv) return executable(fromEnv) ? fromEnv : null;
  if (executable('/usr/bin/chromium')) return '/usr/bin/chromium';
  for (const dir of (env.PATH ?? '').split(path.delimiter).filter(Boolean))
    for (const name of ['chromium', 'chromium-browser']) {
      const file = path.join(dir, name);
      if (executable(file)) return file;
    }
  return null;
}

/** Why a browser test skips, or null when it must run (a Chromium is there, or one is required). */
export function browserSkipReason(env: NodeJS.ProcessEnv = process.env): string | null {
  if (findChromium(env) || env.FOREMAN_REQUIRE_BROWSER) return null;
  return 'no Chromium found (CHROMIUM_PATH, /usr/bin/chromium, chromium on PATH); install it with scripts/install-test-deps, or set FOREMAN_REQUIRE_BROWSER=1 to fail instead of skipping';
}
