// bench/engine-report.mjs FILE...: the table for bench/engine.sh's paired
// rounds. Each FILE holds JSON lines {round, server, at, load, result} (one
// bench/engine-load.mjs result each; several files: rounds taken in several
// lock holds). Per stream count it prints medians over the rounds and the
// ratio Arbitra / llama-server taken within each round (both measured
// minutes apart in the same round, the order alternating), their median and
// every round's value: a ratio of medians would mix rounds taken under
// different load. `decode` is the rate without the prompt (tokens after each
// stream's first, over the time after its first text). A second Arbitra
// ("alt", BENCH_ALT_EXTRA / BENCH_ALT_BIN) gets its own ratios.
import { f2, median, readJsonLines } from './report-util.mjs';

const rows = readJsonLines(process.argv.slice(2));
const streamsList = [...new Set(rows.map((r) => r.result.streams))].sort((a, b) => a - b);
const rounds = [...new Set(rows.map((r) => r.round))].sort((a, b) => a - b);
const hasAlt = rows.some((r) => r.server === 'alt');
const get = (server, streams, round) =>
  rows.find((r) => r.server === server && r.result.streams === streams && r.round === round)?.result;

const loads = rows.map((r) => Number(r.load.split(' ')[0]));
console.log(`Paired rounds: ${rounds.length} (${rounds[0]}-${rounds[rounds.length - 1]}), ` +
  `${rows[0]?.at ?? '?'}-${rows[rows.length - 1]?.at ?? '?'} UTC; 1-min load average at the measurements ` +
  `${f2(Math.min(...loads))}-${f2(Math.max(...loads))} (the bench itself keeps ~2 busy).`);
console.log();
const head = ['streams', 'Arbitra tok/s', 'llama-server tok/s', 'Arbitra / llama-server (median of rounds)',
  'per round', 'decode only: Arbitra / llama-server', 'first text ms, Arbitra / llama-server (median of max)'];
if (hasAlt) head.push('alt tok/s', 'alt / llama-server', 'per round', 'alt / Arbitra', 'decode only: alt / Arbitra');
console.log(`| ${head.join(' | ')} |`);
console.log(`|${head.map((_, i) => (i === 4 || i === 9 ? '---' : '---:')).join('|')}|`);
for (const s of streamsList) {
  const per = (server, field) => rounds.map((k) => get(server, s, k)?.[field]);
  const ratios = (a, b, field) => rounds.map((k) => {
    const x = get(a, s, k), y = get(b, s, k);
    return x && y ? x[field] / y[field] : NaN;
  });
  const ours = ratios('arbitra', 'llama', 'aggregate');
  const cells = [s, f2(median(per('arbitra', 'aggregate'))), f2(median(per('llama', 'aggregate'))),
    `**${f2(median(ours))}**`, ours.map(f2).join(', '), f2(median(ratios('arbitra', 'llama', 'decode'))),
    `${Math.round(median(rounds.map((k) => get('arbitra', s, k)?.firstTextMs.max)))} / ` +
      `${Math.round(median(rounds.map((k) => get('llama', s, k)?.firstTextMs.max)))}`];
  if (hasAlt) {
    const alt = ratios('alt', 'llama', 'aggregate');
    cells.push(f2(median(per('alt', 'aggregate'))), `**${f2(median(alt))}**`, alt.map(f2).join(', '),
      f2(median(ratios('alt', 'arbitra', 'aggregate'))), f2(median(ratios('alt', 'arbitra', 'decode'))));
  }
  console.log(`| ${cells.join(' | ')} |`);
}
