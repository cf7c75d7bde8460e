/**
 * The redactor: the one place that removes secrets from text Foreman lets out (tracker comments,
 * PR bodies, escalations, tool output the model reads, transcripts, logs, API and CLI output,
 * error messages). It knows secret values (given, the values of credential-named environment
 * variables, and the policy's resolved secrets registered with {@link rememberSecrets}), their
 * base64 forms at every alignment and their reversed forms, common token shapes (`ghp_…`,
 * `sk-ant-…`, `AKIA…`, `Authorization:` headers, token-like query parameters), and credentials
 * in URLs (`https://user:token@host` → `https://***@host`).
 *
 * Owns matching and replacing, and the process's registry of known secrets; not which texts pass
 * through it (their producers, or the wrappers at each exit: trackers, SCM, logger, server, CLI).
 */

/** What a secret value is replaced with. */
export const REDACTED = '[REDACTED]';

/** Values shorter than this are not redacted (too likely to be ordinary text). */
export const MIN_SECRET_LENGTH = 8;

/** Names that look like credentials (TOKEN, SECRET, KEY, PASSWORD, PASSWD, CREDENTIAL, AUTH). */
const CREDENTIAL_NAME = /(TOKEN|SECRET|KEY|PASSWORD|PASSWD|CREDENTIAL|AUTH)/i;

/** True when an environment variable name looks like it holds a credential. */
export function isCredentialEnvName(name: string): boolean {
  return CREDENTIAL_NAME.test(name);
}

/** A function that returns its text with every known secret removed. */
export type Redactor = (text: string) => string;

/** Options of `createRedactor`. */
export interface RedactorOptions {
  /** Secret values to remove wherever they appear (empty and undefined entries are ignored). */
  secrets?: (string | undefined | null)[];
  /** Values of credential-named variables here are secrets too. (Default: none) */
  env?: NodeJS.ProcessEnv;
  /** Shortest value redacted, in characters. (Default: `MIN_SECRET_LENGTH`) */
  minLength?: number;
  /** What a secret value is replaced with. (Default: `REDACTED`) */
  replacement?: string;
}

/**
 * The forms a secret value may take in output: itself, reversed, and its base64 (standard and
 * URL-safe) at the three byte alignments it can have inside a longer encoded text (only the
 * characters that depend on the secret alone; shorter than `min` is dropped).
 */
export function secretForms(secret: string, min = MIN_SECRET_LENGTH): string[] {
  const forms = new Set([secret, [...secret].reverse().join('')]);
  const bytes = Buffer.from(secret, 'utf8');
  for (let k = 0; k < 3; k++) {
    const encoded = Buffer.concat([Buffer.alloc(k), bytes]).toString('base64');
    const core = encoded.slice(Math.ceil((k * 8) / 6), Math.floor(((k + bytes.length) * 8) / 6));
    if (core.length < min) continue;
    forms.add(core);
    forms.add(core.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  return [...forms];
}

/**
 * Token shapes redacted whatever their value (provider prefixes, AWS key ids, auth headers, query
 * parameters). A shape's first capture group, if any, is kept (`Authorization: Bearer `, `?token=`).
 */
const TOKEN_SHAPES: RegExp[] = [
  /\b(?:gh[pousr]_[A-Za-z0-9]{16,}|github_pat_[A-Za-z0-9_]{20,})/g,
  /\bsk-ant-[A-Za-z0-9_-]{8,}/g,
  /\blin_(?:api|oauth)_[A-Za-z0-9]{16,}/g,
  /\bxox[abpr]-[A-Za-z0-9-]{8,}/g,
  /\bAKIA[0-9A-Z]{16}\b/g,
  /\b(authorization["']?\s*[:=]\s*["']?(?:(?:bearer|basic|token)\s+)?)[^\s"',;]+/gi,
  /\b(bearer\s+)[A-Za-z0-9._~+/-]{16,}=*/gi,
  /([?&](?:access_token|refresh_token|id_token|token|key|api_key|apikey|client_secret|secret|sig|signature|password)=)[^&\s#"'<>]+/gi,
];

/** Replaces every token shape in `text` (the prefix a shape keeps, e.g. `Authorization: Bearer `, stays). */
export function redactTokenShapes(text: string, replacement = REDACTED): string {
  let out = text;
  for (const re of TOKEN_SHAPES) {
    out = out.replace(re, (_match: string, keep: unknown) => (typeof keep === 'string' ? keep : '') + replacement);
  }
  return out;
}

/**
 * Builds a redactor over the given secrets, their base64 and reversed forms (longest first, so a
 * secret inside another goes too), the token shapes and URL credentials.
 */
export function createRedactor(opts: RedactorOptions = {}): Redactor {
  const min = opts.minLength ?? MIN_SECRET_LENGTH;
  const values = new Set<string>();
  for (const s of opts.secrets ?? []) if (s && s.length >= min) values.add(s);
  for (const [name, value] of Object.entries(opts.env ?? {})) {
    if (value && value.length >= min && isCredentialEnvName(name)) values.add(value);
  }
  const forms = new Set<string>();
  for (const v of values) for (const f of secretForms(v, min)) forms.add(f);
  const list = [...forms].sort((a, b) => b.length - a.length);
  const replacement = opts.replacement ?? REDACTED;
  return (text) =>
    redactUrls(
      redactTokenShapes(
        list.reduce((acc, secret) => (acc.includes(secret) ? acc.split(secret).join(replacement) : acc), text),
        replacement,
      ),
    );
}

const remembered = new Set<string>();
let cached: { key: string; redactor: Redactor } | undefined;

/**
 * Adds secret values (e.g. the loaded policy's, see src/config/secrets.ts `policySecrets`) to the
 * process's registry that {@link redact} knows. Values are kept for the life of the process, so a
 * secret of a replaced policy is still removed; shorter than `MIN_SECRET_LENGTH` is ignored.
 */
export function rememberSecrets(values: Iterable<string | undefined | null>): void {
  for (const v of values) if (v && v.length >= MIN_SECRET_LENGTH) remembered.add(v);
}

/**
 * The process's redactor: every secret Foreman holds (remembered ones, and the credential-named
 * values of `process.env` and of any env given to {@link rememberEnvSecrets}), every token shape,
 * URL credentials. Every text leaving Foreman passes through it.
 */
export function redact(text: string): string {
  const envValues = Object.entries(process.env)
    .filter(([name, value]) => value && value.length >= MIN_SECRET_LENGTH && isCredentialEnvName(name))
    .map(([, value]) => value as string);
  const key = `${remembered.size}\u0000${envValues.join('\u0000')}`;
  if (cached?.key !== key) cached = { key, redactor: createRedactor({ secrets: [...remembered, ...envValues] }) };
  return cached.redactor(text);
}

/** Remembers the credential-named values of `env` (an environment other than `process.env`). */
export function rememberEnvSecrets(env: NodeJS.ProcessEnv): void {
  rememberSecrets(Object.entries(env).flatMap(([name, value]) => (isCredentialEnvName(name) ? [value] : [])));
}

/**
 * Returns `value` with every string in it (deeply: arrays and plain objects) passed through
 * {@link redact}; other values are returned as they are. For JSON leaving Foreman (API, CLI).
 */
export function redactDeep<T>(value: T): T {
  if (typeof value === 'string') return redact(value) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => redactDeep(v)) as T;
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactDeep(v)])) as T;
  }
  return value;
}

/** Removes credentials from URLs (`https://user:token@host` → `https://***@host`). */
export function redactUrls(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]+@/gi, '$1***@');
}

/**
 * `url` for a message: without credentials or query string, and without a trailing `/`; `invalid`
 * (default: `url` itself) when it does not parse. Used to name a model endpoint in errors.
 */
export function describeEndpoint(url: string, invalid: string = url): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.search = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return invalid;
  }
}
