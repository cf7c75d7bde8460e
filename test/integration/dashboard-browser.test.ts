/**
 * The dashboard in real Chromium (playwright-core driving Debian's `chromium`) against the real
 * Temporal dev server, a worker and the scripted model (docs/architecture.md, "Dashboard"): the page
 * asks for the server token once; a run parks on the implementer's question and the inbox shows it
 * without a reload; answering in the page resumes the run (five questions, for the latency numbers);
 * the run hands over; the issue page shows the timeline, the evidence packet and the transcript.
 * Questions 2 to 5, their options, the issue's description and the implementer's summary carry
 * `<script>` / `<img onerror>` (in the inbox, the evidence and the transcript): they show as text and
 * never run (the title is tried in test/unit/dashboard-render.test.ts). The metrics page then charts
 * the run's Level-5 metrics with uPlot (a canvas per chart, the window values those of
 * `/api/v1/metrics`), and no page reports a Content-Security-Policy violation. Screenshots go to
 * test/artifacts/ (and docs/dashboard.png, docs/dashboard-metrics.png with FOREMAN_UPDATE_SCREENSHOT=1).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHARTS } from '../../src/server/dashboard/public/metrics-series.js';
import type { MetricsReport } from '../../src/metrics/level5.js';
import { afterEach, describe, expect, it } from 'vitest';
import type { HttpServer } from '../../src/server/http.js';
import type { IssueRunSummary } from '../../workflows/definitions.js';
import { browserSkipReason, findChromium } from '../support/browser.js';
import { writeIssue } from '../support/fixtures.js';
import { closeRunContext, createRunContext, type RunContext } from '../support/run-context.js';
import { toolUse, type ScriptStep } from '../support/scripted-model-server.js';
import { startCockpitServer } from '../support/cockpit.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ARTIFACTS = path.join(ROOT, 'test', 'artifacts');
const TOKEN = 'dashboard-browser-token-0123456789';
const HOSTILE = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>';
const QUESTIONS = 5;

/** Question `n` as the implementer asks it: the first reads as a real one (the README's screenshot), the rest are hostile. */
function asked(n: number): { question: string; options: string[] } {
  if (n === 1)
    return {
      question: 'Should add() saturate at Number.MAX_SAFE_INTEGER, or is plain addition what callers expect?',
      options: ['yes', 'no: plain addition'],
    };
  return { question: `Question ${n}: should add() saturate? ${HOSTILE}`, options: ['yes', `no ${HOSTILE}`] };
}

/** The implementer asks QUESTIONS questions in turn (each with hostile text), then fixes and finishes. */
function askThenFix(): ScriptStep[] {
  const steps: ScriptStep[] = [];
  for (let i = 1; i <= QUESTIONS; i++) steps.push(toolUse('escalate', { ...asked(i), recommendation: 'yes' }));
  steps.push(
    toolUse('edit_file', { path: 'add.js', old_text: 'return a - b;', new_text: 'return a + b;' }),
    toolUse('finish', { summary: `Fixed add(). ${HOSTILE}` }),
  );
  return steps;
}

let ctx: RunContext | null = null;
let server: HttpServer | null = null;
let browser: Browser | null = null;
afterEach(async () => {
  await browser?.close();
  browser = null;
  await server?.close();
  server = null;
  const closing = ctx;
  ctx = null;
  await closeRunContext(closing);
});

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const xss = (page: Page) => page.evaluate(() => (globalThis as { __xss?: number }).__xss ?? null);

const skip = browserSkipReason();
if (skip) console.warn(`dashboard-browser.test.ts skipped: ${skip}`);

describe.skipIf(skip !== null)('dashboard in Chromium', () => {
  it('shows a waiting question live, answering it resumes the run, the issue page shows the evidence', async () => {
    const executablePath = findChromium();
    if (!executablePath) throw new Error('FOREMAN_REQUIRE_BROWSER is set but no Chromium was found');
    ctx = await createRunContext({ script: askThenFix(), extraPolicy: 'roles:\n  reviewer:\n    enabled: false\n' });
    const body = `add(2, 3) must return 5. ${HOSTILE}`;
    await writeIssue(ctx.issuesDir, ctx.identifier, { title: 'Fix add() for positive numbers', state: 'Todo' }, body);
    server = await startCockpitServer(ctx, TOKEN);
    await fs.mkdir(ARTIFACTS, { recursive: true });

    browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox'] });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const pageErrors: string[] = []; // CSP violations reported on the console, and uncaught errors
    page.on('console', (m) => {
      if (/Content[- ]Security[- ]Policy/i.test(m.text())) pageErrors.push(m.text());
    });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${server.url}/`);
    // The shell holds no data; the stream needs the token, which the page asks for once.
    await page.locator('#token-form').waitFor();
    await page.fill('#token-form input[name=token]', TOKEN);
    await page.click('#token-form button[type=submit]');
    await page.locator('#conn.live').waitFor();
    await page.locator('#inbox .empty').waitFor();
    // A second tab keeps the metrics page open from before the run: it must update without a reload
    // when the run writes its ledger record (the stream's stamp; the minute timer is too slow for this test).
    const metricsTab = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    metricsTab.on('pageerror', (e) => pageErrors.push(e.message));
    await metricsTab.goto(`${server.url}/metrics-view`);
    await metricsTab.fill('#token-form input[name=token]', TOKEN);
    await metricsTab.click('#token-form button[type=submit]');
    const openRuns = metricsTab.locator('article.chart[data-metric="runs"] .current');
    await metricsTab.locator('article.chart[data-metric="runs"] .current[data-value="0"]').waitFor();

    const handle = await ctx.start();
    const appear: number[] = [];
    const resume: number[] = [];
    for (let n = 1; n <= QUESTIONS; n++) {
      const question = page.locator(`article.question[data-key="${ctx.identifier}#${n}"]`);
      await question.waitFor({ timeout: 120_000 }); // the first includes preparing the workspace, on a busy machine
      const seenAt = Date.now();
      const status = await ctx.status();
      expect(status.escalation?.n).toBe(n);
      appear.push(seenAt - Date.parse(status.escalation!.askedAt));
      // Hostile text is shown as text.
      expect(await question.locator('.q').textContent()).toBe(asked(n).question);
      expect(await question.locator('button[data-answer="2"]').textContent()).toContain(asked(n).options[1]);
      expect(await page.locator('#inbox img, #inbox script').count()).toBe(0);
      expect(await question.locator('.without').textContent()).toContain('waits for an answer');
      await page.locator('#card-waiting .v', { hasText: '1' }).waitFor({ timeout: 30_000 });
      if (n === 1) {
        await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-inbox.png'), fullPage: true });
        if (process.env.FOREMAN_UPDATE_SCREENSHOT === '1')
          await fs.copyFile(path.join(ARTIFACTS, 'dashboard-inbox.png'), path.join(ROOT, 'docs', 'dashboard.png'));
      }
      const answered = page.waitForResponse((r) => r.url().endsWith(`/api/v1/${ctx!.identifier}/answer`));
      const clickAt = Date.now();
      if (n < QUESTIONS) {
        await question.locator('button[data-answer="1"]').click();
      } else {
        await question.locator('textarea').fill('Yes, and keep it simple.');
        await question.locator('button[type=submit]').click();
      }
      for (;;) {
        const s = await ctx.status();
        if (s.phase !== 'waiting_for_human' || s.escalation?.n !== n) break;
        if (Date.now() - clickAt > 30_000) throw new Error(`question ${n}: the run did not resume`);
        await new Promise((r) => setTimeout(r, 20));
      }
      resume.push(Date.now() - clickAt);
      const res = await answered;
      expect(res.status()).toBe(200);
      expect(await res.json()).toMatchObject({ escalation: n, option: n < QUESTIONS ? 1 : null });
    }

    const summary = (await handle.result()) as IssueRunSummary;
    expect(summary.outcome).toBe('completed');
    expect(summary.escalations).toHaveLength(QUESTIONS);
    expect(summary.escalations.at(-1)).toMatchObject({
      answer: 'Yes, and keep it simple.',
      author: 'operator',
    });
    await page.locator('#inbox .empty').waitFor();
    await metricsTab
      .locator('article.chart[data-metric="interventions"] .current[data-value="5"]')
      .waitFor({ timeout: 30_000 });
    expect(await openRuns.getAttribute('data-value')).toBe('1');
    await metricsTab.close();

    // The issue page: live facts, the timeline from history, the evidence, the transcript.
    await page.goto(`${server.url}/issues/${encodeURIComponent(ctx.identifier)}`);
    await page.locator('#evidence pre.evidence').waitFor({ timeout: 30_000 });
    const evidence = (await page.locator('#evidence pre.evidence').textContent()) ?? '';
    expect(evidence).toContain(ctx.identifier);
    expect(evidence).toContain('Fix add()');
    await page.locator('#transcript pre.transcript').waitFor({ timeout: 30_000 });
    const transcript = (await page.locator('#transcript').textContent()) ?? '';
    expect(transcript).toContain('escalate');
    expect(transcript).toContain(HOSTILE); // the issue's description, shown as text
    const timeline = (await page.locator('#timeline').textContent()) ?? '';
    expect(timeline.split('Question asked').length - 1).toBe(QUESTIONS);
    expect(timeline).toContain('Answer from operator (dashboard)');
    expect(timeline).toContain('Run ended: completed');
    expect(await page.locator('#head a[href^="http://127.0.0.1:8233/namespaces/"]').count()).toBe(1);
    expect(await page.locator('main img, main script').count()).toBe(0);
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-issue.png'), fullPage: true });
    expect(await xss(page)).toBeNull();

    // The metrics page: a chart per metric, drawn from the ledger the run wrote, with the window's values.
    await page.click('header nav a[href="/metrics-view"]');
    const rate = page.locator('article.chart[data-metric="escalation_rate"]');
    await page
      .locator('article.chart[data-metric="escalation_rate"][data-days-with-data="1"]')
      .waitFor({ timeout: 30_000 });
    const res = await fetch(`${server.url}/api/v1/metrics?days=30`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const report = (await res.json()) as MetricsReport;
    expect(report.current.runs).toBe(1);
    expect(report.current.escalation_rate).toBe(QUESTIONS);
    expect(await page.locator('article.chart').count()).toBe(CHARTS.length);
    for (const { metric } of CHARTS) {
      const chart = page.locator(`article.chart[data-metric="${metric}"]`);
      expect(await chart.locator('.plot canvas').count(), metric).toBe(1);
      expect(await chart.getAttribute('data-days'), metric).toBe('30');
      const value = report.current[metric as keyof MetricsReport['current']];
      expect(await chart.locator('.current').getAttribute('data-value'), metric).toBe(String(value));
      expect(await chart.locator('h3').getAttribute('title'), metric).toBe(
        report.definitions[metric as keyof MetricsReport['definitions']],
      );
    }
    // Today has the run; the other 29 days are gaps (no run to divide by), as is every day of a metric without a value.
    expect(await rate.locator('.current').textContent()).toBe(String(QUESTIONS));
    expect(report.current.review_time_s).toBeNull();
    expect(await page.locator('article.chart[data-metric="review_time_s"]').getAttribute('data-days-with-data')).toBe(
      '0',
    );
    expect(await page.locator('article.chart[data-metric="runs"]').getAttribute('data-days-with-data')).toBe('30');
    await page.selectOption('#metrics-days', '7');
    await page.locator('article.chart[data-metric="runs"][data-days="7"]').waitFor({ timeout: 10_000 });
    expect(page.url()).toMatch(/\/metrics-view\?days=7$/);
    await page.selectOption('#metrics-days', '30');
    await page.locator('article.chart[data-metric="runs"][data-days="30"]').waitFor({ timeout: 10_000 });
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-metrics.png'), fullPage: true });
    if (process.env.FOREMAN_UPDATE_SCREENSHOT === '1')
      await fs.copyFile(
        path.join(ARTIFACTS, 'dashboard-metrics.png'),
        path.join(ROOT, 'docs', 'dashboard-metrics.png'),
      );
    expect(pageErrors).toEqual([]);

    const numbers = { question_to_inbox_ms: appear, answer_to_resume_ms: resume };
    const line = `dashboard latency over ${QUESTIONS} questions: question → inbox median ${median(appear)} ms ${JSON.stringify(appear)}; answer click → run resumed median ${median(resume)} ms ${JSON.stringify(resume)}`;
    console.log(line);
    await fs.writeFile(path.join(ARTIFACTS, 'dashboard-latency.json'), `${JSON.stringify(numbers, null, 2)}\n`);
  }, 420_000);
});
