/** Types of ./metrics-series.js (the metrics page's pure parts; docs/architecture.md, "Dashboard"). */
export type Unit = 'seconds' | 'share' | 'usd' | 'count' | 'number';
export interface ChartSpec {
  metric: string;
  title: string;
  unit: Unit;
}
export const WINDOW_CHOICES: number[];
export const DEFAULT_DAYS: number;
export const CHARTS: ChartSpec[];
export function windowDays(search: string): number;
export function toSeries(daily: unknown, metric: string): [number[], (number | null)[]];
export function daysWithData(series: [number[], (number | null)[]]): number;
export function formatValue(value: unknown, unit: Unit): string;
export function formatTick(value: unknown, unit: Unit): string;
