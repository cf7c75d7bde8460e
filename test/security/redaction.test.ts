/**
 * The one redactor (src/redact.ts) and its exits. Unit: each token shape, the base64 (three
 * alignments) and reversed forms of a known secret, the policy's secrets, the tracker wrapper and
 * the logger. Integration: canary secrets set in process.env and in the policy, echoed by a
 * failing hook, by the model's text, escalation and summary, and by a tool's output, never appear
 * in the local tracker's comments, the transcript, the logs or the PR body sent to fake GitHub.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { parsePolicyText } from '../../src/config/load.js';
import { policySecrets } from '../../src/config/secrets.js';
import { createLogger } from '../../src/logger.js';
import { createRedactor, redact, REDACTED, rememberSecrets, secretForms } from '../../src/redact.js';
import { redactingTracker } from '../../src/trackers/redacting.js';
import type { Tracker } from '../../src/trackers/types.js';
import { humanReplySignal } from '../../workflows/definitions.js';
import { startFakeGitHub, type FakeGitHub } from '../support/fake-github.js';
import { closeRunContext, createRunContext, type RunContext } from '../support/run-context.js';
import { reply, text, toolUse } from '../support/scripted-model-server.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const reversed = (s: string) => [...s].reverse().join('');

describe('token shapes', () => {
  const redactor = createRedactor();
  const shapes = [
    `ghp_${'a1B2'.repeat(9)}`,
    `gho_${'Zz09'.repeat(9)}`,
    `ghs_${'k3Y4'.repeat(9)}`,
    `ghu_${'m5N6'.repeat(9)}`,
    `github_pat_11ABCDEFG0${'x_Y1'.repeat(12)}`,
    `sk-ant-api03-${'Q9w8'.repeat(10)}-AA`,
    `lin_api_${'p0O9'.repeat(10)}`,
    'xoxb-1234567890-0987654321-AbCdEfGhIjKl',
    'xoxp-1234567890-abcdefabcdef',
    'AKIAIOSFODNN7EXAMPLE',
  ];
  for (const token of shapes) {
    it(`redacts ${token.slice(0, 8)}…`, () => {
      const out = redactor(`before ${token} after`);
      expect(out).toBe(`before ${REDACTED} after`);
    });
  }

  it('redacts Authorization headers, bearer tokens, token query parameters and URL userinfo', () => {
    const out = redactor(
      [
        'Authorization: Bearer abc.def.ghi-jkl',
        'authorization: Basic dXNlcjpwYXNzd29yZA==',
        '"Authorization":"token 0123456789abcdef"',
        'curl -H "Bearer 0123456789abcdefABCDEF" x',
        'https://api.example.com/x?access_token=s3cr3tvalue&page=2',
        'https://h/x?token=tok123&key=k456&api_key=ak789&sig=SiG0&ok=1',
        'https://user:hunter2@example.com/repo.git',
      ].join('\n'),
    );
    for (const leaked of [
      'abc.def.ghi-jkl',
      'dXNlcjpwYXNzd29yZA',
      '0123456789abcdef',
      's3cr3tvalue',
      'tok123',
      'k456',
      'ak789',
      'SiG0',
      'hunter2',
    ]) {
      expect(out).not.toContain(leaked);
    }
    expect(out).toContain('page=2');
    expect(out).toContain('ok=1');
    expect(out).toContain('Authorization: Bearer [REDACTED]');
  });

  it('keeps ordinary text', () => {
    const plain = 'Fix add(): return a + b; see https://example.com/docs?page=2 and the key idea.';
    expect(redactor(plain)).toBe(plain);
  });
});

describe('known secrets in other forms', () => {
  const secret = 'canary-Secret-Value-42';
  const redactor = createRedactor({ secrets: [secret] });

  it('redacts base64 of the secret at each of the three alignments inside a longer encoding', () => {
    for (const prefix of ['', 'x', 'xy', 'xyz', 'token: ']) {
      const encoded = b64(`${prefix}${secret} and more`);
      const out = redactor(`blob ${encoded} end`);
      expect(out).toContain(REDACTED);
      // No run of the encoding that depends on the secret alone survives.
      for (const form of secretForms(secret)) expect(out).not.toContain(form);
    }
    expect(redactor(Buffer.from(secret).toString('base64url'))).not.toContain(
      Buffer.from(secret).toString('base64url').slice(0, 20),
    );
  });

  it('redacts the reversed secret', () => {
    expect(redactor(`x ${reversed(secret)} y`)).toBe(`x ${REDACTED} y`);
  });

  it('lists the policy secrets and remembers them for the process redactor', () => {
    const loaded = parsePolicyText(
      [
        '---',
        'tracker:',
        '  kind: linear',
        '  provider: { api_key: $SEC_TEST_LINEAR, webhook_secret: whsec-policy-123456, project_slug: demo }',
        'model: { api_key: sk-model-key-policy-98765 }',
        'scm: { github: { token: ghtoken-policy-abcdef } }',
        '---',
        'prompt',
      ].join('\n'),
      { file: '/tmp/WORKFLOW.md', env: { SEC_TEST_LINEAR: 'linear-key-from-env-1234' } },
    );
    expect(policySecrets(loaded.policy).sort()).toEqual(
      ['ghtoken-policy-abcdef', 'linear-key-from-env-1234', 'sk-model-key-policy-98765', 'whsec-policy-123456'].sort(),
    );
    // Loading remembered them.
    expect(redact('a whsec-policy-123456 b linear-key-from-env-1234')).toBe(`a ${REDACTED} b ${REDACTED}`);
    expect(redact(b64('ghtoken-policy-abcdef'))).not.toContain(b64('ghtoken-policy-abcdef').slice(0, 16));
  });

  it('redacts process.env credential values as they are set', () => {
    process.env.SEC_TEST_API_TOKEN = 'env-canary-value-5555';
    try {
      expect(redact('x env-canary-value-5555')).toBe(`x ${REDACTED}`);
    } finally {
      delete process.env.SEC_TEST_API_TOKEN;
    }
  });
});

describe('exits', () => {
  it('the tracker wrapper redacts comment bodies, filed issues and PR link titles', async () => {
    rememberSecrets(['wrapped-secret-000111']);
    const seen: string[] = [];
    const inner = {
      kind: 'fake',
      upsertComment: async (_i: string, _k: string, body: string) => (seen.push(body), { id: '1', created: true }),
      linkPullRequest: async (_i: string, _u: string, title: string) => seen.push(title),
      createIssue: async (issue: { title: string; description?: string }) => (
        seen.push(issue.title, issue.description ?? ''),
        { issue: {} as never, created: true }
      ),
      extra: 'kept',
    } as unknown as Tracker & { extra: string };
    const t = redactingTracker(inner);
    await t.upsertComment('i', 'k', 'body wrapped-secret-000111');
    await t.linkPullRequest!('i', 'u', 'title wrapped-secret-000111');
    await t.createIssue!({
      key: 'k',
      identifier: 'X-1',
      title: 'wrapped-secret-000111',
      description: 'd wrapped-secret-000111',
      state: 'Todo',
    });
    expect(seen.join('\n')).not.toContain('wrapped-secret-000111');
    expect(t.extra).toBe('kept');
  });

  it('the logger redacts the message, string fields and errors', () => {
    rememberSecrets(['logged-secret-222333']);
    const lines: string[] = [];
    const log = createLogger(
      { FOREMAN_LOG_LEVEL: 'debug' },
      new Writable({
        write(chunk, _enc, cb) {
          lines.push(String(chunk));
          cb();
        },
      }),
    );
    log.info(
      { output: 'hook said logged-secret-222333', nested: { x: ['logged-secret-222333'] } },
      'msg logged-secret-222333',
    );
    log.warn({ err: new Error('failed with logged-secret-222333') }, 'oops');
    log.error(new Error('plain logged-secret-222333'));
    log.info(`ghp_${'a'.repeat(36)}`);
    expect(lines.length).toBe(4);
    expect(lines.join('')).not.toContain('logged-secret-222333');
    expect(lines.join('')).not.toContain(`ghp_${'a'.repeat(36)}`);
  });
});

describe('end to end', () => {
  let ctx: RunContext | null = null;
  let github: FakeGitHub | null = null;
  afterEach(async () => {
    const closing = ctx;
    ctx = null;
    await closeRunContext(closing);
    await github?.close();
    github = null;
    delete process.env.FOREMAN_SEC_CANARY_TOKEN;
  });

  it(
    'canary secrets from the env and the policy never reach comments, transcript, logs or the PR body',
    { timeout: 180_000 },
    async () => {
      const envCanary = 'envcanary-7f3a9c1e5b';
      const policyCanary = 'policycanary-2d8e4b6a0f';
      process.env.FOREMAN_SEC_CANARY_TOKEN = envCanary;
      github = await startFakeGitHub({ owner: 'acme', repo: 'app' });
      const lines: string[] = [];
      const log = createLogger(
        { FOREMAN_LOG_LEVEL: 'debug' },
        new Writable({
          write(chunk, _enc, cb) {
            lines.push(String(chunk));
            cb();
          },
        }),
      );
      const echo = `echo ${envCanary} ${policyCanary} ${b64(`x${envCanary}`)} ${reversed(policyCanary)}`;
      ctx = await createRunContext({
        log,
        extraPolicy: JSON.stringify({
          tracker: { provider: { webhook_secret: policyCanary } },
          hooks: { after_run: `${echo}; exit 3` },
          scm: { github: { repo: 'acme/app', token: github.token, base_url: github.url } },
        }),
        script: [
          reply(text(`I see ${envCanary} and ${policyCanary}.`), toolUse('run_command', { command: echo })),
          toolUse('write_file', { path: 'NOTES.md', content: `notes ${policyCanary}\n` }),
          toolUse('escalate', {
            question: `May I use ${policyCanary} (${b64(envCanary)})?`,
            recommendation: envCanary,
          }),
          toolUse('edit_file', { path: 'add.js', old_text: 'return a - b;', new_text: 'return a + b;' }),
          toolUse('finish', {
            summary: `Fixed. Used ${envCanary}, ${reversed(envCanary)}, ${b64(`ab${policyCanary}`)}.`,
          }),
        ],
      });
      const handle = await ctx.start();
      await ctx.waitFor('the escalation', async () => (await ctx!.status()).phase === 'waiting_for_human');
      await handle.signal(humanReplySignal, { text: 'go on', author: 'ana', source: 'cli' });
      await ctx.waitFor('hand-over', async () => (await ctx!.status()).phase === 'in_review', 120_000);

      const comments = await ctx.commentsText();
      expect(comments).toContain('Foreman evidence');
      const runDirs = await fs.readdir(path.join(ctx.home, 'transcripts', ctx.identifier));
      const transcript = (
        await Promise.all(
          runDirs.map((d) =>
            fs.readFile(path.join(ctx!.home, 'transcripts', ctx!.identifier, d, 'implementer.jsonl'), 'utf8'),
          ),
        )
      ).join('');
      expect(transcript).toContain('NOTES.md');
      const pr = github.pulls()[0]!;
      expect(pr.body).toContain('Foreman evidence');
      const logs = lines.join('');
      expect(logs).toContain('hook failed');
      const status = JSON.stringify(await ctx.status());
      // What Foreman sends the model: tool results (command output, file text) and its own turns
      // (feedback, answers). The model's own turns are left out: it wrote the canaries itself.
      const toModel = JSON.stringify(
        ctx.model.requests.flatMap((r) =>
          (r.body.messages as { role: string; content: unknown }[]).filter((m) => m.role === 'user'),
        ),
      );
      expect(toModel).toContain('tool_result');
      for (const [where, textOut] of Object.entries({ comments, transcript, pr: pr.body, logs, status, toModel })) {
        for (const canary of [envCanary, policyCanary]) {
          for (const form of secretForms(canary)) {
            expect((textOut ?? '').includes(form), `${where} contains a form of ${canary}`).toBe(false);
          }
        }
      }
      await handle.terminate('test over').catch(() => undefined);
    },
  );
});
