/**
 * The dashboard's HTML (docs/architecture.md, "Dashboard"): page shells that hold no data, and the
 * fragments the live stream pushes, rendered with Hono's `html` tagged template, which escapes
 * every interpolated value. Everything shown (titles, questions, answers, evidence, transcripts)
 * is tracker or agent text and hence hostile: it only ever enters as an interpolated value, never
 * through `raw`, and links are http(s) only (data.ts `httpUrl`). No inline script or style: the
 * pages are served with a Content-Security-Policy that forbids both.
 */
import { html } from 'hono/html';
import { formatDuration } from '../../evidence/render.js';
import type { HomeView, InboxItem, IssueView, RetryItem } from './data.js';

type Html = ReturnType<typeof html>;

/** Fragment id → HTML, as the stream sends them. */
export type Fragments = Record<string, string>;

async function str(h: Html): Promise<string> {
  return String(await h);
}

const num = (n: number) => n.toLocaleString('en-US');
const usd = (v: number | null) => (v === null ? 'unknown' : `$${v.toFixed(2)}`);
const issueHref = (identifier: string) => `/issues/${encodeURIComponent(identifier)}`;
/** A time the page shows relative to now (dashboard.js keeps it current). */
const ago = (iso: string | null, prefix = '') =>
  iso ? html`<time data-age="${prefix}" datetime="${iso}" title="${iso}">${iso}</time>` : '';
const until = (iso: string) => html`<time data-until datetime="${iso}" title="${iso}">${iso}</time>`;

/** A dashboard page: the home page, an issue's page, or the metrics page. */
export type DashboardPage = { kind: 'home' } | { kind: 'issue'; identifier: string } | { kind: 'metrics' };

/** The metrics page's body: the window selector and an empty grid metrics.js fills with charts. */
const metricsBody = html`<section>
  <h2>Level-5 metrics</h2>
  <p class="metrics-bar">
    <label
      >Window
      <select id="metrics-days"></select
    ></label>
    <output id="metrics-status" class="metrics-status">loading…</output>
  </p>
  <p class="metrics-note">
    Each run counts on the UTC day it started; a day without a value (no run, or nothing to divide by) is a gap.
    Definitions: specs/metrics.md.
  </p>
  <div id="metrics-charts" class="charts"></div>
  <div id="metrics-version" hidden></div>
</section>`;

/**
 * The page shell of the home page (`/`), an issue (`/issues/<identifier>`) or the metrics
 * (`/metrics-view`): no data in it.
 */
export function renderShell(page: DashboardPage): Promise<string> {
  const stream =
    page.kind === 'home'
      ? '/api/v1/dashboard/stream'
      : page.kind === 'metrics'
        ? '/api/v1/dashboard/metrics/stream'
        : `/api/v1/dashboard/issues/${encodeURIComponent(page.identifier)}/stream`;
  const title =
    page.kind === 'home' ? 'Foreman' : page.kind === 'metrics' ? 'Metrics · Foreman' : `${page.identifier} · Foreman`;
  const body =
    page.kind === 'metrics'
      ? metricsBody
      : page.kind === 'home'
        ? html`<section id="summary" class="summary"></section>
            <section>
              <h2>Waiting for you</h2>
              <div id="inbox"></div>
            </section>
            <section>
              <h2>Retry queue</h2>
              <div id="retry"></div>
            </section>
            <section>
              <h2>Running</h2>
              <div id="running"></div>
            </section>
            <section>
              <h2>Recently ended</h2>
              <div id="recent"></div>
            </section>`
        : html`<h2 class="issue-title">${page.identifier}</h2>
            <section id="head"></section>
            <section>
              <h2>Question</h2>
              <div id="question"></div>
            </section>
            <section>
              <h2>Timeline</h2>
              <div id="timeline"></div>
            </section>
            <section>
              <h2>Evidence</h2>
              <div id="evidence"></div>
            </section>
            <section>
              <h2>Transcript</h2>
              <div id="transcript"></div>
            </section>`;
  return str(
    html`<!doctype html>
      <html lang="en">
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          <title>${title}</title>
          ${page.kind === 'metrics' ? html`<link rel="stylesheet" href="/assets/uplot.css" />` : ''}
          <link rel="stylesheet" href="/assets/dashboard.css" />
          <script type="module" src="/assets/dashboard.js"></script>
          ${page.kind === 'metrics' ? html`<script type="module" src="/assets/metrics.js"></script>` : ''}
        </head>
        <body data-stream="${stream}" data-page="${page.kind}">
          <header>
            <h1><a href="/">Foreman</a></h1>
            <nav>
              <a href="/" class="${page.kind === 'home' ? 'here' : ''}">Runs</a>
              <a href="/metrics-view" class="${page.kind === 'metrics' ? 'here' : ''}">Metrics</a>
            </nav>
            <span id="conn" class="conn">connecting…</span>
            <form id="token-form" class="token" hidden>
              <label>Server token <input name="token" type="password" autocomplete="off" /></label>
              <button type="submit">Use</button>
            </form>
          </header>
          <main>${body}</main>
        </body>
      </html>`,
  );
}

function answerForm(q: InboxItem): Html {
  return html`<form class="answer" data-identifier="${q.identifier}" data-escalation="${String(q.n)}">
    <div class="options">
      ${q.options.map(
        (o) =>
          html`<button
            type="button"
            class="${o.recommended ? 'option recommended' : 'option'}"
            data-answer="${String(o.n)}"
          >
            ${o.n}. ${o.label}${o.recommended ? ' (recommended)' : ''}
          </button>`,
      )}
    </div>
    <textarea name="text" rows="2" placeholder="Or write guidance for the agent (free text)"></textarea>
    <button type="submit">Send</button>
    <output class="result"></output>
  </form>`;
}

function question(q: InboxItem, withIssueLink: boolean): Html {
  return html`<article class="question" data-key="${q.identifier}#${String(q.n)}">
    <header>
      ${withIssueLink ? html`<a href="${issueHref(q.identifier)}">${q.identifier}</a>` : ''}
      ${withIssueLink && q.title ? html`<span class="title">${q.title}</span>` : ''}
      <span class="kind">question ${q.n} · ${q.kind.replace(/_/g, ' ')}</span>
      <span class="age">asked ${ago(q.asked_at, 'ago')}</span>
      ${q.reminded ? html`<span class="flag">reminded</span>` : ''}
      ${q.parked ? html`<span class="flag">parked</span>` : ''}
    </header>
    <p class="q">${q.question}</p>
    ${
      q.recommendation && !q.options.some((o) => o.recommended)
        ? html`<p class="rec">Recommendation: ${q.recommendation}</p>`
        : ''
    }
    <p class="without">If nobody answers: ${q.without_answer}.</p>
    ${answerForm(q)}
  </article>`;
}

function retryTable(rows: RetryItem[], withIssueLink: boolean): Html {
  if (!rows.length) return html`<p class="empty">Nothing is retrying.</p>`;
  return html`<table>
    <tr>
      <th>Issue</th>
      <th>Step</th>
      <th>Next attempt</th>
      <th>Error</th>
    </tr>
    ${rows.map(
      (r) =>
        html`<tr>
          <td>${withIssueLink ? html`<a href="${issueHref(r.identifier)}">${r.identifier}</a>` : r.identifier}</td>
          <td>${r.step}</td>
          <td>attempt ${r.attempt + 1} ${until(r.next_attempt_at)}</td>
          <td class="err">${r.error}</td>
        </tr>`,
    )}
  </table>`;
}

/** The home page's fragments. */
export async function renderHome(v: HomeView): Promise<Fragments> {
  const s = v.summary;
  const card = (label: string, value: string, id: string) =>
    html`<div class="card" id="card-${id}"><span class="v">${value}</span><span class="l">${label}</span></div>`;
  return {
    summary: await str(
      html`${card('working', num(s.working), 'working')} ${card('waiting for a human', num(s.waiting), 'waiting')}
      ${card('retrying', num(s.retrying), 'retrying')} ${card('in review', num(s.in_review), 'review')}
      ${card('done today', num(s.done_today), 'done')} ${card('tokens today', num(s.tokens_today), 'tokens')}
      ${card('USD today', usd(s.usd_today), 'usd')}`,
    ),
    inbox: await str(
      v.inbox.length
        ? html`${v.inbox.map((q) => question(q, true))}`
        : html`<p class="empty">No question is waiting.</p>`,
    ),
    retry: await str(retryTable(v.retry, true)),
    running: await str(
      v.running.length
        ? html`<table>
            <tr>
              <th>Issue</th>
              <th>Phase</th>
              <th>Round</th>
              <th>Turns</th>
              <th>Tokens</th>
              <th>Cost</th>
              <th>Started</th>
              <th>Last error</th>
            </tr>
            ${v.running.map(
              (r) =>
                html`<tr>
                  <td><a href="${issueHref(r.identifier)}">${r.identifier}</a></td>
                  <td>${r.phase.replace(/_/g, ' ')}</td>
                  <td>${r.round}</td>
                  <td>${r.turns}</td>
                  <td>${num(r.tokens)}</td>
                  <td>${usd(r.cost_usd)}</td>
                  <td>${ago(r.started_at, 'ago')}</td>
                  <td class="err">${r.last_error ?? ''}</td>
                </tr>`,
            )}
          </table>`
        : html`<p class="empty">Nothing is running.</p>`,
    ),
    recent: await str(
      v.recent.length
        ? html`<table>
            <tr>
              <th>Issue</th>
              <th>Outcome</th>
              <th>Ended</th>
            </tr>
            ${v.recent.map(
              (r) =>
                html`<tr>
                  <td><a href="${issueHref(r.identifier)}">${r.identifier}</a></td>
                  <td>${r.outcome ?? r.status}</td>
                  <td>${ago(r.closed_at, 'ago')}</td>
                </tr>`,
            )}
          </table>`
        : html`<p class="empty">No run ended recently.</p>`,
    ),
  };
}

/** The metrics page's one streamed fragment: the run ledger's stamp (index.ts `ledgerStamp`); metrics.js refetches when it changes. */
export async function renderMetricsVersion(stamp: string): Promise<Fragments> {
  return { 'metrics-version': await str(html`<span data-stamp="${stamp}"></span>`) };
}

const link = (label: string, href: string | null, text?: string | null) =>
  href
    ? html`<li>${label}: <a href="${href}" rel="noopener noreferrer">${text ?? href}</a></li>`
    : text
      ? html`<li>${label}: <code>${text}</code></li>`
      : '';

/** An issue page's fragments; `transcript` is the readable transcript so far (src/cli/transcript-format.ts). */
export async function renderIssue(v: IssueView | null, transcript: string[]): Promise<Fragments> {
  if (!v) return { head: await str(html`<p class="empty">This issue never ran in this deployment.</p>`) };
  const fact = (label: string, value: string | number | null) =>
    value === null ? '' : html`<span class="fact"><b>${label}</b> ${value}</span>`;
  return {
    head: await str(
      html`${v.title ? html`<p class="title">${v.title}</p>` : ''}
        <div class="facts" id="live">
          ${fact('phase', v.phase.replace(/_/g, ' '))} ${fact('status', v.status)} ${fact('round', v.round)}
          ${fact('turns', v.turns)} ${fact('tokens', v.tokens === null ? null : num(v.tokens))}
          ${fact('cost', v.cost_usd === null ? null : usd(v.cost_usd))}
        </div>
        ${v.last_error ? html`<p class="err">Last error: ${v.last_error}</p>` : ''}
        ${v.retrying ? retryTable([v.retrying], false) : ''}
        <ul class="links">
          ${link('Issue', v.links.issue)} ${link('Branch', v.links.branch_url, v.links.branch)}
          ${link('Pull request', v.links.pr)} ${link('Temporal', v.links.temporal, v.workflow_id)}
        </ul>`,
    ),
    question: await str(v.waiting ? question(v.waiting, false) : html`<p class="empty">Nothing is waiting.</p>`),
    timeline: await str(
      html`<ol class="timeline">
        ${v.timeline.map(
          (t) =>
            html`<li class="${t.state}">
              <time datetime="${t.at}" title="${t.at}">${t.at.slice(11, 19)}</time> <b>${t.label}</b>
              ${t.ms !== null ? html`<span class="ms">${formatDuration(t.ms)}</span>` : ''}
              ${t.detail ? html`<div class="detail">${t.detail}</div>` : ''}
            </li>`,
        )}
      </ol>`,
    ),
    evidence: await str(
      v.evidence ? html`<pre class="evidence">${v.evidence}</pre>` : html`<p class="empty">No evidence packet yet.</p>`,
    ),
    transcript: await str(
      transcript.length
        ? html`<pre class="transcript">${transcript.join('\n')}</pre>`
        : html`<p class="empty">No transcript yet.</p>`,
    ),
  };
}
