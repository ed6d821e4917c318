// Deferred requests through provider batch APIs, end to end against the
// simulator: deferred requests whose deployment's provider has `batch: true`
// become one upstream batch per provider per window (OpenAI: file upload +
// /v1/batches; Anthropic: /v1/messages/batches), their answers come back by
// job id in the caller's format, the ledger bills them at batch prices exactly
// as the simulator billed them, a deployment without a batch API keeps the
// synchronous path, and a failing batch marks its jobs failed with its reason.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, describe, test } from 'node:test';

import { ARBITRA_BIN, httpRequest, ms, sleep, startGateway, startSim, stopAll, tempFile } from './harness.mjs';

const T = { timeout: ms(60_000) };
after(stopAll);

const SIM = `seed: 11
batch_delay_ms: 300
models:
  - name: m
    output_tokens: 8
    price_input: "0.40"
    price_output: "1.60"
    price_batch_input: "0.20"
    price_batch_output: "0.80"
  - name: c
    output_tokens: 6
    cached_fraction: 0.5
    cache_write_tokens: 3
    price_input: "0.40"
    price_output: "1.60"
    price_cached_input: "0.10"
    price_cache_write: "0.50"
    price_batch_input: "0.20"
    price_batch_output: "0.80"
  - name: bad
    batch_failure: failed
    price_input: "0.40"
    price_output: "1.60"
`;

const PRICE = '{ input: 0.40, output: 1.60, batch_input: 0.20, batch_output: 0.80 }';

function config(sim, deferred = '{ window_ms: 300, max_batch: 100, poll_ms: 50 }') {
  return `server: { host: 127.0.0.1, port: 0, threads: 2 }
deferred: ${deferred}
providers:
  oa: { kind: openai, base_url: "http://127.0.0.1:${sim.port}/v1", batch: true }
  an: { kind: anthropic, base_url: "http://127.0.0.1:${sim.port}", batch: true }
  plain: { kind: openai, base_url: "http://127.0.0.1:${sim.port}/v1" }
models:
  g: [{ provider: oa, model: m, price: ${PRICE} }]
  gc: [{ provider: oa, model: c, price: { input: 0.40, output: 1.60, cached_input: 0.10, cache_write: 0.50, batch_input: 0.20, batch_output: 0.80 } }]
  ga: [{ provider: an, model: m, price: ${PRICE} }]
  gp: [{ provider: plain, model: m, price: ${PRICE} }]
  gbad: [{ provider: oa, model: bad, price: ${PRICE} }]
  gabad: [{ provider: an, model: bad, price: ${PRICE} }]
`;
}

let counter = 0;
async function defer(gw, model, format = 'openai') {
  counter++;
  const content = `deferred question ${counter} ${'y'.repeat(counter * 3)}`;
  const res = format === 'openai'
    ? await httpRequest(gw.url, '/v1/chat/completions', {
      body: { model, max_tokens: 50, messages: [{ role: 'user', content }] },
      headers: { 'x-arbitra-defer': 'true' },
    })
    : await httpRequest(gw.url, '/v1/messages', {
      body: { model, max_tokens: 50, messages: [{ role: 'user', content }] },
      headers: { 'x-arbitra-defer': 'true', 'anthropic-version': '2023-06-01' },
    });
  assert.equal(res.status, 202, res.text);
  assert.equal(res.json.status, 'queued');
  return { ...res.json, format };
}

// Polls every job until each has finished; returns the final documents and
// every status each job was seen in.
async function settle(gw, jobs) {
  const seen = jobs.map(() => new Set(['queued']));
  const final = [];
  for (let round = 0; round < 200; round++) {
    let open = 0;
    for (let i = 0; i < jobs.length; i++) {
      if (final[i]) continue;
      const doc = (await httpRequest(gw.url, jobs[i].url)).json;
      seen[i].add(doc.status);
      if (doc.status === 'completed' || doc.status === 'failed') final[i] = doc;
      else open++;
    }
    if (open === 0) return { final, seen };
    await sleep(25);
  }
  assert.fail(`jobs did not finish: ${JSON.stringify(final)}`);
}

async function simStats(sim) {
  return (await httpRequest(sim.url, '/sim/stats')).json;
}

function report(ledgerFile, ...args) {
  return JSON.parse(execFileSync(ARBITRA_BIN, ['report', '--ledger', ledgerFile, '--json', ...args], { encoding: 'utf8' }));
}

describe('deferred requests through batch APIs', () => {
  test('one batch per provider per window, answers by id, batch prices in the ledger, failures named', T, async () => {
    const sim = await startSim({ yaml: SIM });
    const ledgerFile = tempFile('batch.db', null);
    const gw = await startGateway({ config: config(sim), args: ['--ledger', ledgerFile] });
    const start = await simStats(sim);

    // Eight OpenAI-provider jobs (two models, both caller formats) in one window: one batch.
    const openaiJobs = await Promise.all([
      ...[0, 1, 2, 3, 4, 5].map((i) => defer(gw, 'g', i % 2 ? 'anthropic' : 'openai')),
      defer(gw, 'gc'), defer(gw, 'gc', 'anthropic'),
    ]);
    const first = await settle(gw, openaiJobs);
    const afterOpenAI = await simStats(sim);
    assert.equal(afterOpenAI.batches - start.batches, 1, 'eight deferred requests, one upstream batch');
    assert.equal(afterOpenAI.batch_requests - start.batch_requests, 8);
    assert.equal(afterOpenAI.requests - start.requests, 8, 'nothing went the synchronous way');
    const batchIds = new Set(first.final.map((d) => d.batch_id));
    assert.equal(batchIds.size, 1);
    assert.match([...batchIds][0], /^batch_sim\d+$/);
    first.final.forEach((doc, i) => {
      assert.equal(doc.status, 'completed', JSON.stringify(doc));
      assert.equal(doc.http_status, 200);
      assert.ok(first.seen[i].has('submitted') || first.seen[i].has('running'), [...first.seen[i]].join(','));
      if (openaiJobs[i].format === 'openai') {
        assert.equal(doc.response.object, 'chat.completion');
        assert.ok(doc.response.choices[0].message.content.length > 0);
      } else {
        assert.equal(doc.response.type, 'message', 'translated to the caller\'s format');
        assert.ok(doc.response.content[0].text.length > 0);
      }
      assert.equal(doc.deployment, i < 6 ? 'oa/m' : 'oa/c');
    });

    // Three Anthropic-provider jobs: their own message batch.
    const anthropicJobs = await Promise.all([defer(gw, 'ga'), defer(gw, 'ga', 'anthropic'), defer(gw, 'ga')]);
    const second = await settle(gw, anthropicJobs);
    const afterAnthropic = await simStats(sim);
    assert.equal(afterAnthropic.batches - afterOpenAI.batches, 1);
    assert.equal(afterAnthropic.batch_requests - afterOpenAI.batch_requests, 3);
    for (const doc of second.final) {
      assert.equal(doc.status, 'completed', JSON.stringify(doc));
      assert.match(doc.batch_id, /^msgbatch_sim\d+$/);
      assert.equal(doc.deployment, 'an/m');
    }
    assert.equal(second.final[0].response.object, 'chat.completion');
    assert.equal(second.final[1].response.type, 'message');

    // No batch API configured: today's synchronous deferred path.
    const [plainJob] = await Promise.all([defer(gw, 'gp')]);
    const plain = await settle(gw, [plainJob]);
    assert.equal(plain.final[0].status, 'completed');
    assert.equal(plain.final[0].batch_id, undefined);
    const afterPlain = await simStats(sim);
    assert.equal(afterPlain.batches, afterAnthropic.batches);
    assert.equal(afterPlain.batch_requests, afterAnthropic.batch_requests);
    assert.equal(afterPlain.requests - afterAnthropic.requests, 1);

    // A batch that fails upstream: each of its jobs fails, saying why.
    const badJobs = await Promise.all([defer(gw, 'gbad'), defer(gw, 'gbad', 'anthropic')]);
    const bad = await settle(gw, badJobs);
    const afterBad = await simStats(sim);
    assert.equal(afterBad.batches - afterPlain.batches, 1, 'the failing jobs were one batch too');
    assert.equal(afterBad.cost_pico, afterPlain.cost_pico, 'a failed batch is not billed');
    bad.final.forEach((doc, i) => {
      assert.equal(doc.status, 'failed', JSON.stringify(doc));
      assert.equal(doc.http_status, 502);
      // The error in the caller's format: OpenAI {error: {message}}, Anthropic {type: error, error: {message}}.
      if (badJobs[i].format === 'anthropic') assert.equal(doc.response.type, 'error');
      assert.match(doc.response.error.message, /^batch at oa failed: batch batch_sim\d+ failed: simulated_failure simulated batch failure$/);
    });

    // A request that fails inside an Anthropic batch (the batch itself ends): that job fails alone.
    const [lone] = await Promise.all([defer(gw, 'gabad', 'anthropic')]);
    const loneDoc = (await settle(gw, [lone])).final[0];
    assert.equal(loneDoc.status, 'failed', JSON.stringify(loneDoc));
    assert.equal(loneDoc.http_status, 502);
    assert.equal(loneDoc.response.type, 'error');
    assert.match(loneDoc.response.error.message, /^batch msgbatch_sim\d+ at an: simulated batch failure$/);

    const { code } = await gw.stop();
    assert.equal(code, 0, gw.stderr.slice(-2000));

    // The ledger: one record per deferred request, costs exactly the simulator's bill.
    const billed = await simStats(sim);
    const total = report(ledgerFile, '--group-by', 'total').total;
    assert.equal(total.requests, 8 + 3 + 1 + 2 + 1);
    assert.equal(total.errors, 3);
    assert.equal(total.estimated_records, 0);
    assert.equal(total.input_tokens, billed.input_tokens - start.input_tokens);
    assert.equal(total.output_tokens, billed.output_tokens - start.output_tokens);
    assert.equal(total.cost_pico, billed.cost_pico - start.cost_pico, 'ledger cost equals the provider bill exactly');
    // Batch prices, not standard ones: $0.20 / $0.80 per million tokens is
    // 200,000 / 800,000 pico-dollars a token.
    const byModel = Object.fromEntries(report(ledgerFile, '--group-by', 'model').groups.map((g) => [g.group, g]));
    for (const name of ['g', 'ga']) {
      const g = byModel[name];
      assert.equal(g.cost_pico, g.input_tokens * 200_000 + g.output_tokens * 800_000, name);
    }
    const gp = byModel.gp;
    assert.equal(gp.cost_pico, gp.input_tokens * 400_000 + gp.output_tokens * 1_600_000, 'synchronous: standard prices');
    assert.ok(byModel.gc.cached_read_tokens > 0 && byModel.gc.cache_write_tokens > 0);
  });

  test('max_batch splits a window into several batches; a shutdown with batches in flight is clean', T, async () => {
    const sim = await startSim({ yaml: SIM.replace('batch_delay_ms: 300', 'batch_delay_ms: 600000') });
    const gw = await startGateway({ config: config(sim, '{ window_ms: 200, max_batch: 3, poll_ms: 20 }') });
    const jobs = await Promise.all(Array.from({ length: 8 }, () => defer(gw, 'g')));
    let stats;
    for (let i = 0; i < 100; i++) {
      stats = await simStats(sim);
      if (stats.batches >= 3) break;
      await sleep(20);
    }
    assert.equal(stats.batches, 3, '8 requests at max_batch 3: batches of 3, 3 and 2');
    await sleep(200);
    assert.equal((await simStats(sim)).batches, 3);
    const docs = await Promise.all(jobs.map(async (j) => (await httpRequest(gw.url, j.url)).json));
    const sizes = {};
    for (const doc of docs) {
      assert.ok(['submitted', 'running'].includes(doc.status), JSON.stringify(doc));
      sizes[doc.batch_id] = (sizes[doc.batch_id] ?? 0) + 1;
    }
    assert.deepEqual(Object.values(sizes).sort(), [2, 3, 3]);
    const { code } = await gw.stop();
    assert.equal(code, 0, gw.stderr.slice(-2000));
  });
});
