// bench/report.mjs: turns bench/run.sh's result files into the markdown table.
//   node report.mjs RESULTS_DIR key=value...   (date, machine, pinning, load, versions, hold)
// RESULTS_DIR holds TARGET.MODE.json (one arbitra-loadgen line each) and
// rss.NAME.json; a missing file is shown as "-". Prints; judges nothing, but
// says next to each ratio where it stands against the issue's targets.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const [dir, ...pairs] = process.argv.slice(2);
const meta = Object.fromEntries(pairs.map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]));
const read = (name) => {
  const file = join(dir, name);
  if (!existsSync(file)) return null;
  const text = readFileSync(file, 'utf8').trim();
  return text ? JSON.parse(text.split('\n').pop()) : null;
};

const targets = ['direct', 'nginx', 'arbitra', 'portkey'];
const modes = [
  ['fixed', 'fixed rate, non-streamed'],
  ['fixed-stream', 'fixed rate, streamed'],
  ['max', 'max rate, non-streamed'],
  ['max-stream', 'max rate, streamed'],
];
// With rounds (run.sh BENCH_ROUNDS), each TARGET.MODE has TARGET.MODE.rK.json
// per round K: a target's figures are medians over its rounds, and "added"
// is the median of the per-round differences against the direct run of the
// same round (paired, so drift between rounds cancels).
const rounds = Number(meta.rounds ?? 1);
const median = (values) => {
  const v = values.filter((x) => x != null && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
};
const runsOf = (t, m) =>
  rounds > 1
    ? Array.from({ length: rounds }, (_, k) => read(`${t}.${m}.r${k + 1}.json`))
    : [read(`${t}.${m}.json`)];
const combine = (runs) => {
  const got = runs.filter(Boolean);
  if (got.length === 0) return null;
  if (got.some((x) => x.died)) return { died: true };
  return {
    rps: median(got.map((x) => x.rps)),
    p50_us: median(got.map((x) => x.p50_us)),
    p99_us: median(got.map((x) => x.p99_us)),
    ttfb_p50_us: median(got.map((x) => x.ttfb_p50_us)),
    ok_total: got.reduce((sum, x) => sum + (x.ok_total ?? 0), 0),
    errors: got.reduce((sum, x) => sum + (x.errors ?? 0), 0),
    first_error: got.find((x) => x.first_error)?.first_error,
  };
};
const cpuOf = (t, m) => {
  const files = rounds > 1
    ? Array.from({ length: rounds }, (_, k) => read(`${t}.${m}.r${k + 1}.cpu.json`))
    : [read(`${t}.${m}.cpu.json`)];
  const got = files.filter(Boolean);
  if (got.length === 0) return null;
  return { server_ticks: got.reduce((sum, x) => sum + x.server_ticks, 0), hz: got[0].hz };
};
// Per-round added latency at `key` (p50_us, p99_us): target minus direct, same round.
const addedPerRound = (t, m, key) => {
  const xs = runsOf(t, m), ds = runsOf('direct', m);
  return xs.map((x, k) => (x && ds[k] && !x.died && !ds[k].died ? x[key] - ds[k][key] : null));
};
const added = (t, m, key) => median(addedPerRound(t, m, key));
const r = {};
for (const t of targets) for (const [m] of modes) r[`${t}.${m}`] = combine(runsOf(t, m));

const us = (v) => (v == null ? '-' : Math.abs(v) < 10000 ? `${Math.round(v)} µs` : `${(v / 1000).toFixed(1)} ms`);
const signed = (v) => (v == null ? '-' : `${v >= 0 ? '+' : '−'}${us(Math.abs(v))}`);
const num = (v) => (v == null ? '-' : Math.round(v).toLocaleString('en-US'));
const mb = (kb) => (kb == null ? '-' : `${(kb / 1024).toFixed(1)} MB`);

const out = [];
out.push('# Arbitra gateway overhead', '');
out.push(`- date: ${meta.date ?? '-'}`);
out.push(`- machine: ${meta.machine ?? '-'}`);
out.push('- command: `bench/run.sh --out bench/results-gateway.md`');
out.push(`- pinning: ${meta.pinning ?? '-'}`);
out.push(`- load: ${meta.load ?? '-'}`);
out.push(`- versions: ${meta.versions ?? '-'}`);
out.push(`- machine load: ${meta.quiet ?? '-'}`);
out.push('- added = target − direct (the simulator without a proxy) at the same percentile and load;');
out.push('  shown for the fixed-rate loads only (at max rate latency is queueing, compare RPS instead).');
if (rounds > 1) {
  out.push(`- ${rounds} rounds (targets in rotating order): each figure is the median over the rounds; added is the`);
  out.push('  median of each round\'s difference against that round\'s direct run; CPU/req is over all rounds.');
}
out.push('');
out.push('- CPU/req = CPU time (user + system, all threads) of the proxy process over the whole run, warm-up');
out.push('  included, divided by the answers it served; for direct, the simulator\'s own. 10 ms clock ticks.');
out.push('');
out.push('| target | mode | RPS | p50 | p99 | added p50 | added p99 | TTFB p50 | CPU/req | errors |');
out.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const [m, label] of modes) {
  const base = r[`direct.${m}`];
  for (const t of targets) {
    const x = r[`${t}.${m}`];
    if (!x) continue;
    if (x.died) {
      out.push(`| ${t} | ${label} | **died** (see the run's output) | | | | | | | |`);
      continue;
    }
    const fixed = m.startsWith('fixed');
    const baseOk = base && !base.died;
    const addP50 = fixed && t !== 'direct' && baseOk ? added(t, m, 'p50_us') : null;
    const addP99 = fixed && t !== 'direct' && baseOk ? added(t, m, 'p99_us') : null;
    const cpu = cpuOf(t, m);
    const cpuPerReq = cpu && x.ok_total ? (cpu.server_ticks / cpu.hz) * 1e6 / x.ok_total : null;
    out.push(
      `| ${t} | ${label} | ${num(x.rps)} | ${us(x.p50_us)} | ${us(x.p99_us)} | ${signed(addP50)} | ${signed(addP99)} | ` +
        `${x.ttfb_p50_us != null ? us(x.ttfb_p50_us) : '-'} | ${us(cpuPerReq)} | ` +
        `${num(x.errors)}${x.first_error ? ` (${x.first_error})` : ''} |`,
    );
  }
}
out.push('');

// Arbitra against the floor.
const ratio = (a, b) => (a == null || b == null ? null : b <= 0 ? null : a / b);
const verdict = (q, limit) => (q == null ? 'n/a' : q <= limit ? `within ≤ ${limit}×` : `**over** ${limit}×`);
const fmtRatio = (q) => (q == null ? 'n/a' : `${q.toFixed(2)}×`);
out.push('## Arbitra against nginx (targets: added p50 ≤ 1.5×, added p99 ≤ 2× nginx\'s)', '');
out.push('| load | nginx added p50 | arbitra added p50 | ratio | nginx added p99 | arbitra added p99 | ratio |');
out.push('|---|---:|---:|---:|---:|---:|---:|');
const perRound = [];
for (const [m, label] of modes.filter(([m]) => m.startsWith('fixed'))) {
  const d = r[`direct.${m}`], n = r[`nginx.${m}`], a = r[`arbitra.${m}`];
  if (!d || !n || !a || d.died || n.died || a.died) continue;
  const n50 = added('nginx', m, 'p50_us'), a50 = added('arbitra', m, 'p50_us');
  const n99 = added('nginx', m, 'p99_us'), a99 = added('arbitra', m, 'p99_us');
  if (rounds > 1) {
    const pair = (key) => {
      const ns = addedPerRound('nginx', m, key), as = addedPerRound('arbitra', m, key);
      return as.map((x, k) => `${signed(x)} / ${signed(ns[k])}`).join(', ');
    };
    perRound.push(`- ${label}, added p50 per round (arbitra / nginx): ${pair('p50_us')}`);
    perRound.push(`- ${label}, added p99 per round (arbitra / nginx): ${pair('p99_us')}`);
  }
  const q50 = ratio(a50, n50), q99 = ratio(a99, n99);
  // nginx adding nothing measurable leaves no ratio: say so instead of dividing.
  const cell = (q, n, limit) => (n <= 0 ? 'n/a (nginx adds ≤ 0: below the noise)' : `${fmtRatio(q)} (${verdict(q, limit)})`);
  out.push(
    `| ${label} | ${signed(n50)} | ${signed(a50)} | ${cell(q50, n50, 1.5)} | ` +
      `${signed(n99)} | ${signed(a99)} | ${cell(q99, n99, 2)} |`,
  );
}
if (perRound.length) out.push('', ...perRound);
out.push('');
out.push('| max RPS | direct | nginx | arbitra | portkey | arbitra / nginx |');
out.push('|---|---:|---:|---:|---:|---:|');
for (const [m, label] of modes.filter(([m]) => m.startsWith('max'))) {
  const v = (t) => r[`${t}.${m}`]?.rps;
  const q = ratio(v('arbitra'), v('nginx'));
  out.push(`| ${label} | ${num(v('direct'))} | ${num(v('nginx'))} | ${num(v('arbitra'))} | ${num(v('portkey'))} | ${fmtRatio(q)} |`);
}
out.push('');

// Memory.
const hold = meta.hold ?? '1000';
out.push(`## Memory with ${num(Number(hold))} open keep-alive connections (target: Arbitra ≤ 64 MB)`, '');
out.push('| process | RSS at start | RSS holding the connections | peak RSS (VmHWM, whole run) | connections held |');
out.push('|---|---:|---:|---:|---:|');
const start = read('rss-start.arbitra.json');
for (const [name, label] of [['arbitra', 'arbitra'], ['nginx', 'nginx worker'], ['portkey', 'portkey (node)']]) {
  const x = read(`rss.${name}.json`);
  if (!x) continue;
  const startKb = name === 'arbitra' ? start?.rss_start_kb : null;
  out.push(`| ${label} | ${mb(startKb)} | ${mb(x.rss_kb)} | ${mb(x.hwm_kb)} | ${num(x.hold?.held)} (${num(x.hold?.errors)} failed) |`);
}
const a = read('rss.arbitra.json');
if (a) {
  const peak = Math.max(a.rss_kb, a.hwm_kb) / 1024;
  out.push('', `Arbitra peak RSS ${peak.toFixed(1)} MB: ${peak <= 64 ? 'within' : '**over**'} the 64 MB target.`);
}
console.log(out.join('\n'));
