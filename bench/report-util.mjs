// What bench/engine-report.mjs and bench/engine-spec-report.mjs share:
// reading JSON-lines result files, the median of the finite values, and
// two-decimal cells ('-' for a missing value).
import { readFileSync } from 'node:fs';

export const readJsonLines = (files) => files.flatMap((f) =>
  readFileSync(f, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l)));

export const median = (values) => {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
};

export const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : '-');
