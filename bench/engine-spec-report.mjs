// bench/engine-spec-report.mjs FILE...: the speculation table for
// bench/engine.sh's paired rounds. Each FILE holds JSON lines: one per
// measurement {row, target, label, round, server, at, load, result}, server
// one of aplain / aspec (Arbitra plain, speculative) and lplain / lspec
// (llama-server plain, speculative), result one bench/engine-load.mjs line;
// and one per row {row, server: "aspec", drafted, accepted} from Arbitra's
// request log. Speedups are taken within each round (the four measured back
// to back, the order rotating) and the median of those is reported with every
// round's value. Two rates: `aggregate`, generated tokens over the request's
// whole time (the prompt included, which speculation does not touch), and
// `decode`, tokens after the first over the time after the first text (the
// decoding speed the issue's target is about).
import { f2, median, readJsonLines } from './report-util.mjs';

const lines = readJsonLines(process.argv.slice(2));
const measured = lines.filter((l) => l.result);
const pct = (a, d) => (d > 0 ? `${a}/${d} (${Math.round((100 * a) / d)}%)` : '-');

const head = ['target', 'method', 'rounds', 'Arbitra speedup, decode (per round)', 'Arbitra speedup, whole request',
  'accepted/drafted', 'llama-server speedup, decode (per round)', 'llama-server speedup, whole request',
  'accepted/drafted', 'Arbitra / llama-server, speculative, decode (whole request)', 'plain decode tok/s, Arbitra / llama-server'];
console.log(`| ${head.join(' | ')} |`);
console.log(`|${head.map((_, i) => (i < 2 ? '---' : '---:')).join('|')}|`);
for (const row of [...new Set(measured.map((l) => l.row))]) {
  const of = measured.filter((l) => l.row === row);
  const rounds = [...new Set(of.map((l) => l.round))].sort((a, b) => a - b);
  const get = (server, round) => of.find((l) => l.server === server && l.round === round)?.result;
  const ratios = (a, b, field) => rounds.map((k) => {
    const x = get(a, k), y = get(b, k);
    return x && y ? x[field] / y[field] : NaN;
  });
  const ours = ratios('aspec', 'aplain', 'decode');
  const theirs = ratios('lspec', 'lplain', 'decode');
  const log = lines.filter((l) => l.row === row && !l.result && l.server === 'aspec');
  const aDrafted = log.reduce((s, l) => s + l.drafted, 0), aAccepted = log.reduce((s, l) => s + l.accepted, 0);
  const lDrafted = rounds.reduce((s, k) => s + (get('lspec', k)?.drafted ?? 0), 0);
  const lAccepted = rounds.reduce((s, k) => s + (get('lspec', k)?.accepted ?? 0), 0);
  const loads = of.map((l) => Number(l.load.split(' ')[0]));
  console.log(`| ${[of[0].target, of[0].label, `${rounds.length} (${of[0].at}-${of[of.length - 1].at} UTC, load ` +
    `${f2(Math.min(...loads))}-${f2(Math.max(...loads))})`,
  `**${f2(median(ours))}** (${ours.map(f2).join(', ')})`, f2(median(ratios('aspec', 'aplain', 'aggregate'))),
  pct(aAccepted, aDrafted), `${f2(median(theirs))} (${theirs.map(f2).join(', ')})`,
  f2(median(ratios('lspec', 'lplain', 'aggregate'))), pct(lAccepted, lDrafted),
  `**${f2(median(ratios('aspec', 'lspec', 'decode')))}** (${f2(median(ratios('aspec', 'lspec', 'aggregate')))})`,
  `${f2(median(rounds.map((k) => get('aplain', k)?.decode)))} / ${f2(median(rounds.map((k) => get('lplain', k)?.decode)))}`,
  ].join(' | ')} |`);
}
