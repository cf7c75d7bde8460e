// The metrics page's pure parts (docs/architecture.md, "Dashboard"): which Level-5 metrics are
// charted, how `GET /api/v1/metrics` `daily` becomes a chart's series, and how a value is shown.
// No DOM here: test/unit/dashboard-metrics.test.ts imports this file as the browser does.
// Types: ./metrics-series.d.ts.

/** The window choices of the page, in days; the first default is 30 (src/metrics/routes.ts `DEFAULT_WINDOW_DAYS`). */
export const WINDOW_CHOICES = [7, 30, 90];
export const DEFAULT_DAYS = 30;

/**
 * The charts, in page order: the metric (specs/metrics.md), its title and its unit. `escalated_share`
 * is left out: it is 1 - `auto_approved_share`.
 */
export const CHARTS = [
  { metric: 'mean_time_between_interventions_s', title: 'Mean time between interventions', unit: 'seconds' },
  { metric: 'escalation_rate', title: 'Escalation rate (per run)', unit: 'number' },
  { metric: 'auto_approved_share', title: 'Auto-approved share', unit: 'share' },
  { metric: 'rework_rate', title: 'Rework rate', unit: 'share' },
  { metric: 'defect_escape_rate', title: 'Defect escape rate', unit: 'share' },
  { metric: 'tokens_per_accepted_change', title: 'Tokens per accepted change', unit: 'count' },
  { metric: 'usd_per_accepted_change', title: 'USD per accepted change', unit: 'usd' },
  { metric: 'review_time_s', title: 'Review time per accepted change', unit: 'seconds' },
  { metric: 'longest_unattended_run_s', title: 'Longest unattended run', unit: 'seconds' },
  { metric: 'agent_actions_per_instruction', title: 'Agent actions per human instruction', unit: 'number' },
  { metric: 'runs', title: 'Runs started', unit: 'count' },
  { metric: 'accepted_changes', title: 'Accepted changes', unit: 'count' },
  { metric: 'interventions', title: 'Interventions', unit: 'count' },
];

/** The `?days=` of a page URL's search string when it is one of {@link WINDOW_CHOICES}, else {@link DEFAULT_DAYS}. */
export function windowDays(search) {
  const days = Number(new URLSearchParams(search).get('days'));
  return WINDOW_CHOICES.includes(days) ? days : DEFAULT_DAYS;
}

/**
 * One chart's data in uPlot's shape: `[x, y]`, x the start of each day (`date`, UTC) in epoch
 * seconds, y the metric's value that day; a day without a finite number is null, which uPlot draws
 * as a gap. Days come oldest first, as the API sends them; rows without a valid date are dropped.
 */
export function toSeries(daily, metric) {
  const x = [];
  const y = [];
  for (const day of Array.isArray(daily) ? daily : []) {
    const t =
      typeof day?.date === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(day.date) ? Date.parse(`${day.date}T00:00:00Z`) : NaN;
    if (!Number.isFinite(t)) continue;
    const v = day[metric];
    x.push(t / 1000);
    y.push(typeof v === 'number' && Number.isFinite(v) ? v : null);
  }
  return [x, y];
}

/** How many days of a series have a value. */
export function daysWithData(series) {
  return series[1].filter((v) => v !== null).length;
}

function duration(s) {
  if (s < 10) return `${Math.round(s * 10) / 10} s`;
  if (s < 120) return `${Math.round(s)} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86400).toFixed(1)} d`;
}

/**
 * A value as the page shows it, by unit (`seconds`: a duration; `share`: a percentage; `usd`:
 * dollars; `count`: a whole number with separators; `number`: two decimals at most); null or a
 * non-finite number: "no data".
 */
export function formatValue(value, unit) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return 'no data';
  switch (unit) {
    case 'seconds':
      return duration(value);
    case 'share':
      return `${Math.round(value * 1000) / 10}%`;
    case 'usd':
      return `$${value.toFixed(value < 1 ? 3 : 2)}`;
    case 'count':
      return Math.round(value).toLocaleString('en-US');
    default:
      return String(Math.round(value * 100) / 100);
  }
}

const trim = (v) => String(Math.round(v * 100) / 100);

/**
 * An axis tick as the charts label it: like {@link formatValue}, but with the decimals a tick
 * between whole values needs (0.5 s, 1.5 h, 2.5 runs).
 */
export function formatTick(value, unit) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return '';
  if (unit === 'seconds') {
    const a = Math.abs(value);
    if (a < 120) return `${trim(value)} s`;
    if (a < 7200) return `${trim(value / 60)} min`;
    if (a < 172800) return `${trim(value / 3600)} h`;
    return `${trim(value / 86400)} d`;
  }
  if (unit === 'count') return Math.abs(value) >= 1000 ? formatValue(value, unit) : trim(value);
  return formatValue(value, unit);
}
