// The metrics page's script (docs/architecture.md, "Dashboard"): charts of the Level-5 metrics
// (specs/metrics.md) from `GET /api/v1/metrics?days=N`, drawn with uPlot (served from
// node_modules at /assets/uplot.js). It fetches with the token dashboard.js keeps, and again when
// the page's live stream says the run ledger changed (the `metrics-version` fragment) and every
// minute. Text from the server enters the page only as textContent.
import uPlot from '/assets/uplot.js';
import { authHeaders } from '/assets/dashboard.js';
import {
  CHARTS,
  WINDOW_CHOICES,
  daysWithData,
  formatTick,
  formatValue,
  toSeries,
  windowDays,
} from '/assets/metrics-series.js';

const REFRESH_MS = 60_000;
const root = document.getElementById('metrics-charts');
const select = document.getElementById('metrics-days');
const status = document.getElementById('metrics-status');
const charts = new Map();
let days = windowDays(window.location.search);
let loading = false;
let again = false;

for (const d of WINDOW_CHOICES) {
  const option = document.createElement('option');
  option.value = String(d);
  option.textContent = `last ${d} days`;
  option.selected = d === days;
  select.append(option);
}
select.addEventListener('change', () => {
  days = windowDays(`?days=${select.value}`);
  const url = new URL(window.location.href);
  url.searchParams.set('days', String(days));
  window.history.replaceState(null, '', url);
  load();
});

/** One card per chart: title (the definition as its tooltip and caption), the window's value, the plot. */
function card(spec) {
  const article = document.createElement('article');
  article.className = 'chart';
  article.dataset.metric = spec.metric;
  const head = document.createElement('header');
  const title = document.createElement('h3');
  title.textContent = spec.title;
  const current = document.createElement('span');
  current.className = 'current';
  head.append(title, current);
  const caption = document.createElement('p');
  caption.className = 'definition';
  const plot = document.createElement('div');
  plot.className = 'plot';
  article.append(head, caption, plot);
  root.append(article);
  return { article, title, current, caption, plot, chart: null };
}

function plotOptions(spec, width) {
  return {
    width,
    height: 150,
    legend: { show: false },
    cursor: { drag: { x: false, y: false } },
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
    scales: { x: { time: true }, y: { range: (u, min, max) => [Math.min(0, min ?? 0), max > 0 ? max * 1.1 : 1] } },
    axes: [{ space: 60 }, { size: 70, values: (u, splits) => splits.map((v) => formatTick(v, spec.unit)) }],
    series: [{}, { label: spec.title, stroke: '#2856d8', width: 2, spanGaps: false, points: { show: true, size: 6 } }],
  };
}

function show(report) {
  for (const spec of CHARTS) {
    const c = charts.get(spec.metric) ?? charts.set(spec.metric, card(spec)).get(spec.metric);
    const definition = report.definitions?.[spec.metric] ?? '';
    c.title.title = definition;
    c.caption.textContent = definition;
    const value = report.current?.[spec.metric] ?? null;
    c.current.textContent = formatValue(value, spec.unit);
    c.current.dataset.value = value === null ? 'null' : String(value);
    const data = toSeries(report.daily, spec.metric);
    c.article.dataset.days = String(data[0].length);
    c.article.dataset.daysWithData = String(daysWithData(data));
    if (c.chart) c.chart.setData(data);
    else c.chart = new uPlot(plotOptions(spec, Math.max(240, c.plot.clientWidth)), data, c.plot);
  }
}

/** Fetches the report and redraws; a call while one is in flight runs once more after it. */
async function load() {
  if (loading) {
    again = true;
    return;
  }
  loading = true;
  try {
    const res = await fetch(`/api/v1/metrics?days=${days}`, { headers: authHeaders() });
    if (res.status === 401) return; // the live stream asks for the token, then says the ledger changed
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const report = await res.json();
    show(report);
    status.textContent = `Last ${report.window_days} days (UTC), as of ${report.generated_at}.`;
    status.className = 'metrics-status';
  } catch (err) {
    status.textContent = `Metrics could not be read: ${err.message}`;
    status.className = 'metrics-status err';
  } finally {
    loading = false;
    if (again) {
      again = false;
      load();
    }
  }
}

document.addEventListener('foreman:fragments', (e) => {
  if (e.detail.includes('metrics-version')) load();
});
window.addEventListener('resize', () => {
  for (const c of charts.values()) c.chart?.setSize({ width: Math.max(240, c.plot.clientWidth), height: 150 });
});
setInterval(load, REFRESH_MS);
// The stream's first fragments may have come before this module ran (it waits for uPlot to load).
load();
