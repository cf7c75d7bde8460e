/**
 * The secret values a resolved policy holds (after `$VAR` substitution): the tracker's
 * credentials (`tracker.provider.api_key`, `token`, webhook and signing secrets, any provider key
 * named like a credential), `scm.github.token`, `model.api_key`, `model.openai_api_key` and `server.token`. Owns only listing them; the
 * redactor (src/redact.ts) removes them from every text leaving Foreman.
 */
import type { Policy } from './schema.js';

/** Provider keys that hold credentials: `api_key`, `token`, `*_token`, `*_secret`, `secret`, `password`. */
const SECRET_KEY = /^(api_key|apikey|token|secret|password|passwd)$|(_token|_secret|_password|_api_key)$/i;

function strings(value: unknown): string[] {
  if (typeof value === 'string') return value.trim() ? [value.trim()] : [];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (value && typeof value === 'object') return Object.values(value).flatMap(strings);
  return [];
}

/**
 * Every secret value in `policy`, deduplicated, empty ones dropped. Pass them to
 * `rememberSecrets` (src/redact.ts); loadPolicy does so for every policy it loads.
 */
export function policySecrets(policy: Policy): string[] {
  const found: string[] = [];
  const walk = (obj: Record<string, unknown>): void => {
    for (const [key, value] of Object.entries(obj)) {
      if (SECRET_KEY.test(key)) found.push(...strings(value));
      else if (value && typeof value === 'object' && !Array.isArray(value)) walk(value as Record<string, unknown>);
    }
  };
  walk(policy.tracker.provider);
  if (policy.scm.github.token) found.push(policy.scm.github.token);
  if (policy.model.api_key) found.push(policy.model.api_key);
  if (policy.model.openai_api_key) found.push(policy.model.openai_api_key);
  if (policy.server.token) found.push(policy.server.token);
  return [...new Set(found)];
}
