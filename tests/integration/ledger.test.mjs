// The ledger end to end: the real gateway in front of the simulator, records
// in a real SQLite file, read back with `arbitra report`.
//   - thousands of mixed requests: the report's totals equal what the
//     simulator billed by its own prices, to the pico-dollar and the token;
//   - virtual keys: 401 without one, 403 for a model it may not use, a small
//     budget under concurrent load is never overspent, 429 names the limit
//     in the caller's format, revocation takes effect;
//   - kill -9 under load: at restart the loss is counted and reported, every
//     answered request is either recorded or counted, the file is consistent;
//   - x-arbitra-cost and /metrics agree with the ledger.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

import {
  ARBITRA_BIN, SIM_KEY, cleanEnv, httpRequest, httpStream, ms, parseSSE, runToExit, sleep, startGateway, startSim,
  stopAll, tempFile,
} from './harness.mjs';

const T = { timeout: ms(180_000) };
const MASTER = 'master-key-for-tests-0123456789';

// Each simulated model bills by its own prices (dollars per million tokens).
const SIM_YAML = `seed: 11
models:
  - name: m-plain
    output_tokens: 20
    price_input: "0.15"
    price_output: "0.6"
  - name: m-cached
    output_tokens: 12
    cached_fraction: 0.5
    price_input: "3"
    price_output: "15"
    price_cached_input: "0.3"
  - name: m-write
    output_tokens: 9
    cache_write_tokens: 5
    price_input: "3"
    price_output: "15"
    price_cached_input: "0.3"
    price_cache_write: "3.75"
  - name: m-reason
    output_tokens: 6
    reasoning_tokens: 7
    price_input: "1.25"
    price_output: "10"
  - name: m-slowish
    output_tokens: 20
    tokens_per_second: 400
    price_input: "0.15"
    price_output: "0.6"
`;

function gatewayConfig(simPort, ledgerSection = '') {
  return `server: { host: 127.0.0.1, port: 0, threads: 2 }
${ledgerSection}providers:
  simoa: { kind: openai, base_url: "http://127.0.0.1:${simPort}/v1", api_key: "\${SIM_KEY}" }
  simant: { kind: anthropic, base_url: "http://127.0.0.1:${simPort}", api_key: "\${SIM_KEY}" }
models:
  plain:
    provider: simoa
    model: m-plain
    price: { input: "0.15", output: "0.6" }
  cached:
    provider: simant
    model: m-cached
    price: { input: "3", output: "15", cached_input: "0.3" }
  write:
    provider: simant
    model: m-write
    price: { input: "3", output: "15", cached_input: "0.3", cache_write: "3.75" }
  reason:
    provider: simoa
    model: m-reason
    price: { input: "1.25", output: "10" }
  slowish:
    provider: simoa
    model: m-slowish
    price: { input: "0.15", output: "0.6" }
`;
}

// Exact dollars from integer pico-dollars, as the gateway prints them.
function dollars(pico) {
  const digits = String(pico).padStart(13, '0');
  return `${digits.slice(0, -12)}.${digits.slice(-12)}`.replace(/0+$/, '').replace(/\.$/, '');
}

function report(ledgerFile, ...args) {
  const out = execFileSync(ARBITRA_BIN, ['report', '--ledger', ledgerFile, '--json', ...args], { encoding: 'utf8' });
  return JSON.parse(out);
}

// Sends one chat request in either format, streamed or not; resolves to the status.
async function chat(gw, { model, format = 'openai', stream = false, key, maxTokens, content = 'hello there' }) {
  const headers = {};
  if (key) headers.authorization = `Bearer ${key}`;
  if (format === 'openai') {
    const body = { model, stream, messages: [{ role: 'user', content }] };
    if (maxTokens) body.max_tokens = maxTokens;
    if (stream && Math.random() < 0.5) body.stream_options = { include_usage: true };
    if (stream) return (await httpStream(gw.url, '/v1/chat/completions', { body, headers })).status;
    return (await httpRequest(gw.url, '/v1/chat/completions', { body, headers }));
  }
  headers['anthropic-version'] = '2023-06-01';
  const body = { model, stream, max_tokens: maxTokens ?? 64, messages: [{ role: 'user', content }] };
  if (stream) return (await httpStream(gw.url, '/v1/messages', { body, headers })).status;
  return (await httpRequest(gw.url, '/v1/messages', { body, headers }));
}

async function pool(count, concurrency, task) {
  let next = 0;
  const results = [];
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) {
      const i = next++;
      results[i] = await task(i);
    }
  }));
  return results;
}

describe('ledger', () => {
  let sim;
  before(async () => { sim = await startSim({ yaml: SIM_YAML }); });
  after(stopAll);

  test('the report equals what the simulator billed, to the pico-dollar', T, async () => {
    const before = (await httpRequest(sim.url, '/sim/stats')).json;
    const ledgerFile = tempFile('billing.db', null);
    const gw = await startGateway({ config: gatewayConfig(sim.port), args: ['--ledger', ledgerFile] });
    const models = ['plain', 'cached', 'write', 'reason'];
    const N = 2400;
    const statuses = await pool(N, 24, async (i) => {
      const r = await chat(gw, {
        model: models[i % 4],
        format: (i >> 2) % 2 ? 'anthropic' : 'openai',  // cross-format half the time
        stream: (i >> 3) % 2 === 1,
        content: `request number ${i} ${'x'.repeat(i % 97)}`,
      });
      return typeof r === 'number' ? r : r.status;
    });
    assert.deepEqual([...new Set(statuses)], [200]);
    const { code } = await gw.stop();
    assert.equal(code, 0, gw.stderr.slice(-2000));

    const billed = (await httpRequest(sim.url, '/sim/stats')).json;
    const diff = (k) => billed[k] - before[k];
    const total = report(ledgerFile, '--group-by', 'total').total;
    assert.equal(total.requests, N);
    assert.equal(total.errors, 0);
    assert.equal(total.input_tokens, diff('input_tokens'));
    assert.equal(total.output_tokens, diff('output_tokens'));
    assert.equal(total.cached_read_tokens, diff('cached_read_tokens'));
    assert.equal(total.cache_write_tokens, diff('cache_write_tokens'));
    assert.equal(total.reasoning_tokens, diff('reasoning_tokens'));
    assert.equal(total.cost_pico, diff('cost_pico'), 'ledger cost equals the provider bill exactly');
    assert.equal(total.estimated_records, 0);
    assert.equal(total.price_missing_records, 0);
    // The per-model split adds up to the same total.
    const byModel = report(ledgerFile, '--group-by', 'model');
    assert.deepEqual(byModel.groups.map((g) => g.group).sort(), [...models].sort());
    assert.equal(byModel.groups.reduce((s, g) => s + g.cost_pico, 0), total.cost_pico);

    // The planner measures its workload from these records.
    const workloadFile = tempFile('measured.yaml', null);
    const plan = JSON.parse(execFileSync(ARBITRA_BIN, ['plan', '--from-ledger', ledgerFile, '--json', '--open-weight',
      'llama-3.1-8b', '--emit-workload', workloadFile], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));
    const span = execFileSync('sqlite3', [ledgerFile, 'SELECT MAX(time_ms) - MIN(time_ms) FROM records'], { encoding: 'utf8' });
    const perMonth = (N / 4) * (30.4375 * 86_400_000) / Math.max(Number(span), 3_600_000);
    const measured = fs.readFileSync(workloadFile, 'utf8');
    for (const model of models) {
      const block = measured.split('- name: ').find((b) => b.startsWith(`"${model}"`));
      assert.ok(block, `route ${model} in the measured workload`);
      const volume = Number(block.match(/requests_per_month: (\S+)/)[1]);
      assert.ok(Math.abs(volume - perMonth) / perMonth < 1e-5, `${model}: ${volume} vs ${perMonth}`);
    }
    const plain = measured.split('- name: ').find((b) => b.startsWith('"plain"'));
    assert.match(plain, /output_tokens: \{ mean: 20, p95: 20 \}/, 'm-plain answers 20 tokens every time');
    assert.equal(plan.routes.length, 4);
  });

  test('x-arbitra-cost, the ledger record and /metrics agree', T, async () => {
    const ledgerFile = tempFile('header.db', null);
    const gw = await startGateway({ config: gatewayConfig(sim.port), args: ['--ledger', ledgerFile] });
    const r = await chat(gw, { model: 'cached', content: 'price me' });
    assert.equal(r.status, 200);
    const usage = r.json.usage;
    // By hand: uncached input at $3/M, cached reads at $0.3/M, output at $15/M.
    const cached = usage.prompt_tokens_details.cached_tokens;
    const pico = (usage.prompt_tokens - cached) * 3_000_000 + cached * 300_000 + usage.completion_tokens * 15_000_000;
    assert.ok(cached > 0);
    assert.equal(r.headers.get('x-arbitra-cost'), dollars(pico));
    const metrics = (await httpRequest(gw.url, '/metrics')).text;
    assert.match(metrics, /arbitra_requests_total\{model="cached",deployment="simant\/m-cached",status="2xx"\} 1/);
    assert.match(metrics, new RegExp(`arbitra_tokens_total\\{model="cached",deployment="simant/m-cached",kind="cached_read"\\} ${cached}`));
    assert.match(metrics, /arbitra_request_duration_seconds_count\{model="cached",deployment="simant\/m-cached"\} 1/);
    assert.match(metrics, /arbitra_ledger_queue_depth \d+/);
    await gw.stop();
    assert.equal(report(ledgerFile, '--group-by', 'total').total.cost_pico, pico);
  });

  test('routing decisions and savings are recorded', T, async () => {
    const ledgerFile = tempFile('route.db', null);
    // The same simulated model sold at two prices; the expensive one is listed first.
    const config = gatewayConfig(sim.port) + `  duo:
    deployments:
      - { provider: simoa, model: m-plain, price: { input: "3", output: "15" } }
      - { provider: simant, model: m-plain, price: { input: "0.15", output: "0.6" } }
    routing: { policy: cost }
`;
    const gw = await startGateway({ config, args: ['--ledger', ledgerFile] });
    for (let i = 0; i < 5; i++) {
      const r = await chat(gw, { model: 'duo', content: `route me ${i}` });
      assert.equal(r.status, 200);
      assert.match(r.headers.get('x-arbitra-route'), /simant\/m-plain/);
    }
    await gw.stop();
    const rows = execFileSync('sqlite3', ['-json', ledgerFile,
      "SELECT input_tokens, output_tokens, cost_pico, route_saved_pico, route FROM records WHERE model = 'duo'"],
    { encoding: 'utf8' });
    const records = JSON.parse(rows);
    assert.equal(records.length, 5);
    for (const r of records) {
      const cheap = r.input_tokens * 150_000 + r.output_tokens * 600_000;
      const dear = r.input_tokens * 3_000_000 + r.output_tokens * 15_000_000;
      assert.equal(r.cost_pico, cheap);
      assert.equal(r.route_saved_pico, dear - cheap, 'saved against the group\'s first deployment');
      const route = JSON.parse(r.route);
      assert.equal(route.policy, 'cost');
      assert.equal(route.candidates.length, 2);
      assert.ok(route.candidates.every((c) => c.predicted_cost_pico > 0));
    }
    const total = report(ledgerFile, '--group-by', 'model').groups.find((g) => g.group === 'duo');
    assert.equal(total.routing_saved_pico, records.reduce((s, r) => s + r.route_saved_pico, 0));
  });

  test('a cache hit is recorded at no cost, with what it saved', T, async () => {
    const ledgerFile = tempFile('cache.db', null);
    const config = gatewayConfig(sim.port) + 'cache:\n  default: { mode: exact }\n';
    const gw = await startGateway({ config, args: ['--ledger', ledgerFile] });
    const first = await chat(gw, { model: 'cached', content: 'the same question' });
    const second = await chat(gw, { model: 'cached', content: 'the same question' });
    assert.equal(first.headers.get('x-arbitra-cache'), 'miss');
    assert.equal(second.headers.get('x-arbitra-cache'), 'hit-exact');
    await gw.stop();
    const rows = JSON.parse(execFileSync('sqlite3', ['-json', ledgerFile,
      'SELECT cache, cost_pico, cache_saved_pico FROM records ORDER BY seq'], { encoding: 'utf8' }));
    assert.equal(rows.length, 2);
    assert.equal(rows[0].cache, 'miss');
    assert.ok(rows[0].cost_pico > 0);
    assert.equal(rows[1].cache, 'hit-exact');
    assert.equal(rows[1].cost_pico, 0, 'a hit costs nothing');
    assert.equal(rows[1].cache_saved_pico, rows[0].cost_pico, 'it saved what the miss cost');
    const total = report(ledgerFile, '--group-by', 'total').total;
    assert.equal(total.cache_hits, 1);
    assert.equal(total.cache_saved_pico, rows[0].cost_pico);
  });

  test('virtual keys: required once they exist, scoped to models, revocable', T, async () => {
    const ledgerFile = tempFile('keys.db', null);
    const env = cleanEnv({ SIM_KEY, ARBITRA_MASTER_KEY: MASTER });
    const gw = await startGateway({ config: gatewayConfig(sim.port), args: ['--ledger', ledgerFile], env });
    // No keys yet: open, like a plain proxy.
    assert.equal((await chat(gw, { model: 'plain' })).status, 200);
    // The admin API needs the master key.
    const denied = await httpRequest(gw.url, '/admin/keys', { body: { name: 'x' } });
    assert.equal(denied.status, 401);
    const created = await httpRequest(gw.url, '/admin/keys', {
      body: { name: 'team-a', models: ['plain'], tags: ['team-a'] },
      headers: { authorization: `Bearer ${MASTER}` },
    });
    assert.equal(created.status, 201, created.text);
    const { key, id } = created.json;
    assert.match(key, /^sk-arb-/);
    // Listed without its value.
    const listed = await httpRequest(gw.url, '/admin/keys', { headers: { 'x-api-key': MASTER } });
    assert.equal(listed.json.data.length, 1);
    assert.ok(!listed.text.includes(key.slice(7)), 'the key value is never listed');

    const none = await chat(gw, { model: 'plain' });
    assert.equal(none.status, 401);
    assert.equal(none.json.error.type, 'authentication_error');
    assert.match(none.json.error.message, /virtual key/);
    const noneAnthropic = await chat(gw, { model: 'plain', format: 'anthropic' });
    assert.equal(noneAnthropic.status, 401);
    assert.equal(noneAnthropic.json.type, 'error');
    assert.equal(noneAnthropic.json.error.type, 'authentication_error');
    assert.equal((await chat(gw, { model: 'plain', key: key + 'x' })).status, 401);
    assert.equal((await chat(gw, { model: 'plain', key })).status, 200);
    // Embeddings are behind the same keys, and recorded.
    const embedNoKey = await httpRequest(gw.url, '/v1/embeddings', { body: { model: 'plain', input: 'hello' } });
    assert.equal(embedNoKey.status, 401);
    const embed = await httpRequest(gw.url, '/v1/embeddings', {
      body: { model: 'plain', input: ['hello', 'world'] }, headers: { authorization: `Bearer ${key}` },
    });
    assert.equal(embed.status, 200, embed.text);
    assert.equal(embed.headers.get('x-arbitra-cost'), dollars(embed.json.usage.prompt_tokens * 150_000));
    const wrongModel = await chat(gw, { model: 'cached', key });
    assert.equal(wrongModel.status, 403);
    assert.match(wrongModel.json.error.message, /may not use model 'cached'/);

    // The CLI sees the same keys; revocation takes effect at once through the API.
    const cliList = execFileSync(ARBITRA_BIN, ['keys', 'list', '--ledger', ledgerFile], { encoding: 'utf8' });
    assert.match(cliList, new RegExp(`${id}\\s+team-a\\s+active`));
    const revoked = await httpRequest(gw.url, `/admin/keys/${id}`, { method: 'DELETE', headers: { 'x-api-key': MASTER } });
    assert.equal(revoked.status, 200);
    assert.equal((await chat(gw, { model: 'plain', key })).status, 401);

    // A key made by the CLI in another process works within about a second.
    const made = execFileSync(ARBITRA_BIN, ['keys', 'create', '--name', 'cli', '--ledger', ledgerFile], { encoding: 'utf8' });
    const cliKey = made.match(/sk-arb-\S+/)[0];
    let status = 0;
    for (let i = 0; i < 30 && status !== 200; i++) {
      status = (await chat(gw, { model: 'plain', key: cliKey })).status;
      if (status !== 200) await sleep(100);
    }
    assert.equal(status, 200);
    // The admin report groups by key, from the same ledger (flushed first).
    const adminReport = await httpRequest(gw.url, '/admin/report?group_by=key&format=json', {
      headers: { authorization: `Bearer ${MASTER}` },
    });
    assert.equal(adminReport.status, 200, adminReport.text);
    const mine = adminReport.json.groups.find((g) => g.group === id);
    assert.ok(mine && mine.requests >= 2, 'the key\'s requests are in the admin report');
    const badReport = await httpRequest(gw.url, '/admin/report?group_by=colour', { headers: { 'x-api-key': MASTER } });
    assert.equal(badReport.status, 400);
    await gw.stop();
    // Records carry the key id, never the key.
    const byKey = report(ledgerFile, '--group-by', 'key');
    assert.ok(byKey.groups.some((g) => g.group === id));
    const raw = execFileSync('sqlite3', [ledgerFile, 'SELECT * FROM records; SELECT * FROM keys;'], { encoding: 'utf8' });
    assert.ok(!raw.includes(key) && !raw.includes(cliKey), 'no key value in the ledger file');
    assert.ok(!raw.includes(MASTER) && !raw.includes(SIM_KEY), 'no secret in the ledger file');
  });

  test('a small budget under concurrent load is never overspent', T, async () => {
    const ledgerFile = tempFile('budget.db', null);
    const env = cleanEnv({ SIM_KEY, ARBITRA_MASTER_KEY: MASTER });
    const gw = await startGateway({ config: gatewayConfig(sim.port), args: ['--ledger', ledgerFile], env });
    const budget = '0.0005';  // dollars per day
    const created = await httpRequest(gw.url, '/admin/keys', {
      body: { name: 'tight', budget_day: budget }, headers: { authorization: `Bearer ${MASTER}` },
    });
    assert.equal(created.status, 201, created.text);
    const { key, id } = created.json;
    // m-slowish answers in ~50 ms, so many requests are in flight at once.
    const results = await pool(200, 40, () => chat(gw, { model: 'slowish', key, maxTokens: 20 }));
    const ok = results.filter((r) => r.status === 200).length;
    const refused = results.filter((r) => r.status === 429);
    assert.equal(ok + refused.length, 200);
    assert.ok(ok > 5, `some requests fit in the budget (${ok})`);
    assert.ok(refused.length > 0, 'the budget stopped some');
    assert.match(refused[0].json.error.message, /budget exceeded: key \S+ has a daily budget of \$0\.00/);
    assert.equal(refused[0].json.error.type, 'rate_limit_error');
    // A model with no price anywhere cannot be used under a budget (it would never bite).
    const unpriced = await chat(gw, { model: 'simoa/m-plain', key, maxTokens: 20 });
    assert.equal(unpriced.status, 403);
    assert.match(unpriced.json.error.message, /has a budget, and no deployment of model 'simoa\/m-plain' has a price/);
    // The Anthropic endpoint refuses in its own format.
    const anthropic = await chat(gw, { model: 'slowish', format: 'anthropic', key, maxTokens: 20 });
    assert.equal(anthropic.status, 429);
    assert.equal(anthropic.json.error.type, 'rate_limit_error');
    await gw.stop();
    const spent = report(ledgerFile, '--group-by', 'key').groups.find((g) => g.group === id);
    assert.equal(spent.requests - spent.errors, ok);
    // Each request is bounded by max_tokens, so reservations cover it: no overspend at all.
    assert.ok(spent.cost_pico <= 0.0005 * 1e12, `spent ${spent.cost} of ${budget}`);
    assert.ok(spent.cost_pico > 0.0005 * 1e12 * 0.5, `the budget was used, not wasted (${spent.cost})`);
  });

  test('kill -9 under load: the loss is counted at restart and the file is consistent', T, async () => {
    const ledgerFile = tempFile('crash.db', null);
    const config = gatewayConfig(sim.port, `ledger: { path: "${ledgerFile}", commit_interval_ms: 200 }\n`);
    const gw = await startGateway({ config });
    const workers = 16;
    let sent = 0;
    const answeredAt = [];  // when each 200 arrived (performance.now())
    let stop = false;
    const load = Array.from({ length: workers }, async () => {
      while (!stop) {
        sent++;
        try {
          const r = await chat(gw, { model: 'plain' });
          if (r.status === 200) answeredAt.push(performance.now());
        } catch { /* the gateway died under this request */ }
      }
    });
    await sleep(ms(1500));
    // What the ledger itself says is not yet committed, just before the kill:
    // every record older than this lag is on disk.
    const asked = performance.now();
    const metrics = (await httpRequest(gw.url, '/metrics')).text;
    gw.proc.kill('SIGKILL');
    await gw.exit;
    stop = true;
    await Promise.all(load);
    const gauge = (name) => Number(metrics.match(new RegExp(`^${name} (\\S+)$`, 'm'))[1]);
    const lagMs = gauge('arbitra_ledger_write_lag_seconds') * 1000;
    const committedBeforeKill = gauge('arbitra_ledger_records_committed_total');

    const again = await startGateway({ config });
    const lostLine = again.stderr.match(/the previous run lost (\d+) record/);
    await again.stop();
    const lost = lostLine ? Number(lostLine[1]) : 0;
    const total = report(ledgerFile, '--group-by', 'total').total;
    const answered = answeredAt.length;
    assert.ok(answered > 100, `load was running (${answered} answered)`);
    assert.ok(committedBeforeKill > 0, 'the writer committed while the load ran, not only at exit');
    // Every answered request is either recorded or counted as lost.
    assert.ok(total.requests + lost >= answered, `${total.requests} recorded + ${lost} lost >= ${answered} answered`);
    assert.ok(total.requests + lost <= sent, 'nothing recorded twice');
    // Only what was uncommitted can be lost: the records of answers that came
    // back within the lag before the /metrics request (10 ms for delivery),
    // after it, and the requests in flight at the kill (one a worker).
    const since = asked - lagMs - 10;
    const recent = answeredAt.filter((t) => t >= since).length;
    assert.ok(lost <= recent + workers,
      `lost ${lost}: at most the ${recent} answers within the ledger's ${lagMs.toFixed(0)} ms lag + ${workers} in flight`);
    const check = execFileSync('sqlite3', [ledgerFile, 'PRAGMA integrity_check;'], { encoding: 'utf8' }).trim();
    assert.equal(check, 'ok');
    const gaps = execFileSync('sqlite3', [ledgerFile, 'SELECT COALESCE(SUM(lost), 0) FROM gaps;'], { encoding: 'utf8' });
    assert.equal(Number(gaps.trim()), lost);
  });

  test('the Postgres store: the same exact totals through a real server', T, async () => {
    const base = process.env.ARBITRA_TEST_POSTGRES;
    assert.ok(base, 'ARBITRA_TEST_POSTGRES must name a server: run scripts/postgres.sh (scripts/test.sh sets it)');
    const schema = `ledger_it_${process.pid}`;
    execFileSync('psql', [base, '-q', '-c', `DROP SCHEMA IF EXISTS ${schema} CASCADE`, '-c', `CREATE SCHEMA ${schema}`]);
    const conninfo = `${base} options='-csearch_path=${schema}'`;
    const config = gatewayConfig(sim.port, `ledger: { path: "${tempFile('pg', null)}", postgres: "${conninfo}" }\n`);
    const configFile = tempFile('pg.yaml', config);
    const before = (await httpRequest(sim.url, '/sim/stats')).json;
    const gw = await startGateway({ config });
    assert.match(gw.stderr, /ledger postgres:\/\/127\.0\.0\.1:5432\/arbitra_test/);
    assert.ok(!gw.stderr.includes('password'), 'the connection string (a secret) is not logged');
    const models = ['plain', 'cached', 'write', 'reason'];
    const statuses = await pool(400, 16, async (i) => {
      const r = await chat(gw, { model: models[i % 4], format: i % 3 ? 'openai' : 'anthropic', stream: i % 5 === 0 });
      return typeof r === 'number' ? r : r.status;
    });
    assert.deepEqual([...new Set(statuses)], [200]);
    assert.equal((await gw.stop()).code, 0);
    const billed = (await httpRequest(sim.url, '/sim/stats')).json;
    const out = execFileSync(ARBITRA_BIN, ['report', '--config', configFile, '--json', '--group-by', 'total'],
      { encoding: 'utf8', env: { ...process.env, SIM_KEY } });
    const total = JSON.parse(out).total;
    assert.equal(total.requests, 400);
    assert.equal(total.cost_pico, billed.cost_pico - before.cost_pico);
    assert.equal(total.output_tokens, billed.output_tokens - before.output_tokens);
  });

  test('a ledger file that is not a database stops the start with a clear error', T, async () => {
    const bad = tempFile('bad.db', 'this is plain text, not SQLite, and long enough to have a header of its own.....');
    const result = await runToExit(ARBITRA_BIN, ['serve', '--port', '0', '--ledger', bad]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, new RegExp(`arbitra: ledger: .*${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  });
});
