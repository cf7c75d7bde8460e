/**
 * The Compose checker the deployment tests run (scripts/compose-check: the Compose specification's
 * own loader, github.com/compose-spec/compose-go, as `docker compose config` uses it), built once
 * with Go into the user cache like the Temporal CLI (src/temporal/cli-binary.ts) and reused. Its
 * modules come from the Go module proxy, pinned by scripts/compose-check/go.sum.
 */
import { createHash } from 'node:crypto';
import { access, mkdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { findGo, userCacheDir } from '../../src/temporal/cli-binary.js';
import { withFileLock } from '../../src/file-lock.js';
import { withoutSecrets } from '../../src/workspace/shell.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const SOURCE = join(repoRoot, 'scripts', 'compose-check');

/** Builds (once per source version) and returns the path of the compose-check binary. */
export async function composeCheckBinary(): Promise<string> {
  const hash = createHash('sha256');
  for (const f of ['go.mod', 'go.sum', 'main.go']) hash.update(await readFile(join(SOURCE, f)));
  const dir = join(userCacheDir(), 'foreman', 'compose-check');
  const target = join(dir, `compose-check-${hash.digest('hex').slice(0, 12)}`);
  await mkdir(dir, { recursive: true });
  const exists = () =>
    access(target).then(
      () => true,
      () => false,
    );
  if (await exists()) return target;
  return withFileLock(
    join(dir, '.build.lock'),
    async () => {
      if (await exists()) return target;
      const go = await findGo(process.env);
      if (!go)
        throw new Error('compose-check needs Go (the same toolchain that builds the Temporal CLI); install Go >= 1.25');
      const tmp = `${target}.tmp-${process.pid}`;
      try {
        await execa(go, ['build', '-mod=readonly', '-o', tmp, '.'], {
          cwd: SOURCE,
          env: { ...withoutSecrets(process.env), CGO_ENABLED: '0' },
          extendEnv: false,
          timeout: 600_000,
        });
        await rename(tmp, target);
      } finally {
        await rm(tmp, { force: true });
      }
      return target;
    },
    { timeoutError: (message) => new Error(message) },
  );
}

/** What one compose-check run gave: the resolved project (exit 0) or the loader's error. */
export interface ComposeCheckResult {
  ok: boolean;
  /** The resolved project (`docker compose config --format json`), when ok. */
  project: ComposeProject | null;
  /** The loader's error message, when not ok. */
  error: string;
}

/** The parts of a resolved Compose project the tests read. */
export interface ComposeProject {
  services: Record<
    string,
    {
      image?: string;
      command?: string[] | null;
      entrypoint?: string[] | null;
      environment?: Record<string, string | null>;
      depends_on?: Record<string, { condition: string }>;
      volumes?: { type: string; source?: string; target: string; read_only?: boolean }[];
      deploy?: { replicas?: number };
      security_opt?: string[];
      ports?: { target: number; published?: string; host_ip?: string }[];
    }
  >;
}

/** Loads Compose `files` (paths relative to the repository) with exactly `env` as the environment. */
export async function composeCheck(files: string[], env: Record<string, string>): Promise<ComposeCheckResult> {
  const bin = await composeCheckBinary();
  const r = await execa(bin, files, {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...env },
    extendEnv: false,
    reject: false,
  });
  if (r.exitCode !== 0) return { ok: false, project: null, error: `${r.stderr}`.trim() };
  return { ok: true, project: JSON.parse(r.stdout) as ComposeProject, error: '' };
}
