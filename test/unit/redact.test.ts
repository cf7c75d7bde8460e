/** The one redactor: secret values, credential-named environment values and URL credentials. */
import { describe, expect, it } from 'vitest';
import { createRedactor, isCredentialEnvName, REDACTED, redactUrls } from '../../src/redact.js';

describe('createRedactor', () => {
  it('removes given secrets and credential-named env values, longest first, keeping short values', () => {
    const redact = createRedactor({
      secrets: ['sk-ant-abcdef123456', undefined, '', 'short'],
      env: { GITHUB_TOKEN: 'ghp_0123456789abcdef', HOME: '/home/someone-long', DB_PASSWORD: 'hunter2hunter2' },
    });
    const text = 'key sk-ant-abcdef123456 tok ghp_0123456789abcdef pw hunter2hunter2 home /home/someone-long short';
    expect(redact(text)).toBe(`key ${REDACTED} tok ${REDACTED} pw ${REDACTED} home /home/someone-long short`);
  });

  it('removes a secret that contains another one whole', () => {
    const redact = createRedactor({ secrets: ['abcdefgh', 'xxabcdefghyy'] });
    expect(redact('xxabcdefghyy abcdefgh')).toBe(`${REDACTED} ${REDACTED}`);
  });

  it('removes credentials from URLs', () => {
    expect(redactUrls('push to https://x-access-token:ghs_secret@github.com/o/r.git failed')).toBe(
      'push to https://***@github.com/o/r.git failed',
    );
    expect(createRedactor()('git://user@host/repo')).toBe('git://***@host/repo');
  });

  it('names that look like credentials', () => {
    for (const n of ['GITHUB_TOKEN', 'aws_secret_access_key', 'API_KEY', 'PGPASSWORD', 'NPM_AUTH']) {
      expect(isCredentialEnvName(n)).toBe(true);
    }
    expect(isCredentialEnvName('PATH')).toBe(false);
  });
});
