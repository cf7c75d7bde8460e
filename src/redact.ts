/**
 * The redactor: the one place that removes secrets from text Foreman lets out (tracker comments,
 * PR bodies, tool output the model reads, logs, error messages). It knows secret values (given, and
 * the values of credential-named environment variables) and credentials in URLs
 * (`https://user:token@host` → `https://***@host`).
 *
 * Owns matching and replacing; not which texts pass through it (their producers call it).
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

/** Builds a redactor over the given secrets (longest first, so a secret inside another goes too). */
export function createRedactor(opts: RedactorOptions = {}): Redactor {
  const min = opts.minLength ?? MIN_SECRET_LENGTH;
  const values = new Set<string>();
  for (const s of opts.secrets ?? []) if (s && s.length >= min) values.add(s);
  for (const [name, value] of Object.entries(opts.env ?? {})) {
    if (value && value.length >= min && isCredentialEnvName(name)) values.add(value);
  }
  const list = [...values].sort((a, b) => b.length - a.length);
  const replacement = opts.replacement ?? REDACTED;
  return (text) =>
    redactUrls(list.reduce((acc, secret) => (acc.includes(secret) ? acc.split(secret).join(replacement) : acc), text));
}

/** Removes credentials from URLs (`https://user:token@host` → `https://***@host`). */
export function redactUrls(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/@\s]+@/gi, '$1***@');
}
