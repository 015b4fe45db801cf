/**
 * Latency statistics: nearest-rank percentiles over every recorded sample (no histogram
 * buckets, so p999 and max are exact), plus small number formatters for the report.
 */

export type LatencySummary = {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  p999: number;
  max: number;
};

/** Samples in milliseconds, appended as they arrive. */
export class Samples {
  #values: number[] = [];

  add(ms: number): void {
    this.#values.push(ms);
  }

  get count(): number {
    return this.#values.length;
  }

  /** Summary of everything recorded so far; null when there is nothing. */
  summary(): LatencySummary | null {
    return summarize(this.#values);
  }
}

/** Nearest-rank percentile of a sorted array: the smallest value with at least p of the samples at or below it. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(p * sorted.length)));
  return sorted[rank - 1]!;
}

export function summarize(values: readonly number[]): LatencySummary | null {
  if (values.length === 0) return null;
  const sorted = Float64Array.from(values).sort();
  const list = Array.from(sorted);
  let sum = 0;
  for (const v of list) sum += v;
  return {
    count: list.length,
    mean: round(sum / list.length),
    p50: round(percentile(list, 0.5)),
    p90: round(percentile(list, 0.9)),
    p95: round(percentile(list, 0.95)),
    p99: round(percentile(list, 0.99)),
    p999: round(percentile(list, 0.999)),
    max: round(list[list.length - 1]!),
  };
}

/** Three decimals: microsecond resolution for millisecond figures. */
export function round(value: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** "0.412" style milliseconds for tables; "-" for missing. */
export function ms(value: number | null | undefined): string {
  if (value === null || value === undefined || Number.isNaN(value)) return '-';
  if (value >= 100) return value.toFixed(0);
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

/** Thousands separators for counts and rates. */
export function int(value: number | null | undefined): string {
  if (value === null || value === undefined || Number.isNaN(value)) return '-';
  return Math.round(value).toLocaleString('en-US');
}
