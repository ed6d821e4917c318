// The router end to end: two simulated providers (each its own arbitra-sim
// process, restarted on the same port to change its behaviour) behind one
// model group. A provider that slows down loses its traffic within seconds; a
// failing one is skipped and tried again later (breaker, half-open probe);
// 429s are respected (Retry-After); no request fails while a healthy
// deployment remains; the x-arbitra-route header says who served and why;
// per-request overrides; context overflow falls back to another group.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';

import { httpRequest, ms, sleep, startGateway, startSim, stopAll } from './harness.mjs';

const T = { timeout: ms(60_000) };
after(stopAll);

function simYaml(behaviour) {
  return `seed: 5\nmodels:\n  - name: m\n    output_tokens: 8\n${behaviour}`;
}

async function sim(behaviour = '', port = 0) {
  const args = port ? ['--port', String(port)] : [];
  return startSim({ yaml: simYaml(behaviour), args });
}

// Stops a simulator and starts one with new behaviour on the same port.
async function restart(old, behaviour) {
  const port = old.port;
  await old.stop();
  for (let i = 0; ; i++) {
    try {
      return await sim(behaviour, port);
    } catch (e) {
      if (i > 20) throw e;
      await sleep(100);
    }
  }
}

function config(a, b, { routing = 'policy: cost', extra = '' } = {}) {
  return `server: { host: 127.0.0.1, port: 0, threads: 2 }
providers:
  a: { kind: openai, base_url: "http://127.0.0.1:${a.port}/v1", timeouts: { first_byte_ms: 5000 } }
  b: { kind: openai, base_url: "http://127.0.0.1:${b.port}/v1", timeouts: { first_byte_ms: 5000 } }
models:
  g:
    deployments:
      - { provider: a, model: m, price: { input: 0.10, output: 0.20 } }
      - { provider: b, model: m, price: { input: 1.00, output: 2.00 } }
    routing: { ${routing} }
${extra}`;
}

let counter = 0;
async function ask(gw, { headers = {}, body = {} } = {}) {
  counter++;
  const res = await httpRequest(gw.url, '/v1/chat/completions', {
    body: { model: 'g', messages: [{ role: 'user', content: `hello ${counter}` }], ...body },
    headers,
  });
  return { status: res.status, provider: res.headers.get('x-arbitra-provider'), route: res.headers.get('x-arbitra-route'), res };
}

async function simRequests(s) {
  const res = await httpRequest(s.url, '/sim/stats');
  return res.json.requests;
}

describe('router', () => {
  test('the cheapest deployment serves, and the header says who and why', T, async () => {
    const a = await sim();
    const b = await sim();
    const gw = await startGateway({ config: config(a, b) });
    for (let i = 0; i < 5; i++) {
      const r = await ask(gw);
      assert.equal(r.status, 200, r.res.text);
      assert.equal(r.provider, 'a');
      assert.match(r.route, /^a\/m; policy=cost; (cheapest meeting the bar|probe[^;]*); expected=\$0\.\d{6}; p90_ttft=\d+ms$/);
    }
    assert.equal(await simRequests(b), 0);
    // Per-request override: the latency policy, by header and by body.
    const byHeader = await ask(gw, { headers: { 'x-arbitra-route': 'priority' } });
    assert.match(byHeader.route, /policy=priority/);
    const byBody = await ask(gw, { body: { arbitra: { route: 'latency' } } });
    assert.equal(byBody.status, 200, byBody.res.text);
    assert.match(byBody.route, /policy=latency/);
    // Bad overrides are the caller's error.
    const unknown = await ask(gw, { headers: { 'x-arbitra-route': 'fastest' } });
    assert.equal(unknown.status, 400);
    assert.match(unknown.res.json.error.message, /unknown routing policy.*cost, latency, balanced/);
    const badBar = await ask(gw, { headers: { 'x-arbitra-max-ttft-ms': 'soon' } });
    assert.equal(badBar.status, 400);
  });

  test('a provider that slows down loses its traffic within seconds', T, async () => {
    let a = await sim();
    const b = await sim();
    const gw = await startGateway({ config: config(a, b, { routing: 'policy: cost, max_ttft_ms: 300' }) });
    for (let i = 0; i < 10; i++) assert.equal((await ask(gw)).provider, 'a');
    a = await restart(a, '    ttft_ms: 900\n');
    const started = performance.now();
    const served = [];
    while (performance.now() - started < ms(6000)) {
      const r = await ask(gw);
      assert.equal(r.status, 200, r.res.text);
      served.push({ at: performance.now() - started, provider: r.provider });
    }
    const firstB = served.find((s) => s.provider === 'b');
    assert.ok(firstB, `b never served: ${JSON.stringify(served)}`);
    assert.ok(firstB.at < ms(4000), `traffic moved to b after ${firstB.at} ms`);
    const late = served.filter((s) => s.at > ms(4000));
    const lateA = late.filter((s) => s.provider === 'a').length;
    assert.ok(late.length > 5 && lateA <= 1, `after 4 s, a served ${lateA} of ${late.length} (at most one probe)`);
    // A caller with a looser bar (5 s) is still served by the cheap, slow one.
    const relaxed = await ask(gw, { headers: { 'x-arbitra-max-ttft-ms': '5000' } });
    assert.equal(relaxed.status, 200);
    assert.equal(relaxed.provider, 'a', relaxed.route);
  });

  test('a failing provider is skipped, then tried again later and used once healthy', T, async () => {
    let a = await sim('    failure: "status:500"\n');
    const b = await sim();
    const gw = await startGateway({
      config: config(a, b, { routing: 'policy: cost, breaker: { failures: 2, open_ms: 1000 }' }),
    });
    const results = [];
    for (let i = 0; i < 20; i++) results.push(await ask(gw));
    assert.ok(results.every((r) => r.status === 200), 'no request fails while b is healthy');
    assert.ok(results.every((r) => r.provider === 'b'));
    const hitsWhileFailing = await simRequests(a);
    assert.ok(hitsWhileFailing >= 2 && hitsWhileFailing < 10, `a was tried ${hitsWhileFailing} times for 20 requests (breaker open)`);
    // a recovers; after the open period a half-open probe finds it healthy.
    a = await restart(a, '');
    await sleep(ms(2500));
    const after = [];
    for (let i = 0; i < 10; i++) after.push(await ask(gw));
    assert.ok(after.every((r) => r.status === 200));
    assert.ok(after.slice(-5).every((r) => r.provider === 'a'), `a serves again: ${after.map((r) => r.provider)}`);
  });

  test('429s are respected: Retry-After keeps traffic away, nothing fails', T, async () => {
    const a = await sim('    rate_limit_rate: 1.0\n    retry_after_seconds: 3\n');
    const b = await sim();
    const gw = await startGateway({ config: config(a, b) });
    const results = [];
    const started = performance.now();
    // Not scaled for slow builds: the window must stay inside the 3 s Retry-After.
    while (performance.now() - started < 2000) results.push(await ask(gw));
    assert.ok(results.length >= 3);
    assert.ok(results.every((r) => r.status === 200 && r.provider === 'b'), 'b serves while a cools down');
    assert.equal(await simRequests(a), 1, 'a was asked once, then left alone for its Retry-After');
    await sleep(ms(1500));
    await ask(gw);
    assert.equal(await simRequests(a), 2, 'after Retry-After, a is tried again');
  });

  test('a single deployment answering 429 passes it on with Retry-After instead of hammering', T, async () => {
    const a = await sim('    rate_limit_rate: 1.0\n    retry_after_seconds: 9\n');
    const b = await sim();
    const gw = await startGateway({
      config: config(a, b, { extra: `  only-a:\n    deployments: [{ provider: a, model: m }]\n    routing: { retries: 3 }\n` }),
    });
    const res = await httpRequest(gw.url, '/v1/chat/completions', {
      body: { model: 'only-a', messages: [{ role: 'user', content: 'hi' }] },
    });
    assert.equal(res.status, 429);
    assert.equal(res.headers.get('retry-after'), '9');
    assert.equal(await simRequests(a), 1, 'not retried into a cooling deployment');
  });

  test('no request fails while a healthy deployment remains (flaky primary, retries)', T, async () => {
    const a = await sim('    error_rate: 0.5\n');
    const b = await sim();
    const gw = await startGateway({ config: config(a, b, { routing: 'policy: cost, breaker: { failures: 50, open_ms: 1000 }' }) });
    const results = [];
    for (let batch = 0; batch < 8; batch++) {
      results.push(...(await Promise.all(Array.from({ length: 5 }, () => ask(gw)))));
    }
    assert.equal(results.filter((r) => r.status !== 200).length, 0);
    const viaA = results.filter((r) => r.provider === 'a').length;
    assert.ok(viaA > 5, `a still serves the requests it can (${viaA} of 40)`);
    assert.ok(results.some((r) => /fallback after 1 failed attempt/.test(r.route)), 'some were served after a failed attempt');
  });

  test('hedging: a stalled first choice is overtaken by the second after its p95, streamed or not', T, async () => {
    let a = await sim('    ttft_ms: 30\n');
    const b = await sim('    ttft_ms: 30\n');
    const gw = await startGateway({ config: config(a, b, { routing: 'policy: cost, hedge: true' }) });
    for (let i = 0; i < 10; i++) assert.equal((await ask(gw)).provider, 'a');
    a = await restart(a, '    ttft_ms: 3000\n');
    const started = performance.now();
    const r = await ask(gw);
    const took = performance.now() - started;
    assert.equal(r.status, 200, r.res.text);
    assert.equal(r.provider, 'b', r.route);
    assert.match(r.route, /^b\/m; policy=cost; hedge: the first choice had not answered after its p95 \(\d+ms\); expected=/);
    assert.ok(took < ms(1500), `answered in ${took} ms, not after a's 3 s`);
    assert.equal(await simRequests(a), 1, 'the stalled first choice was sent, then cancelled');
    // Streams too: the race is to the first token (a's headers and first
    // event come at once, its tokens 3 s later).
    const streamStart = performance.now();
    const streamed = await httpRequest(gw.url, '/v1/chat/completions', {
      body: { model: 'g', stream: true, messages: [{ role: 'user', content: 'stream please' }] },
    });
    const streamTook = performance.now() - streamStart;
    assert.equal(streamed.status, 200);
    assert.equal(streamed.headers.get('x-arbitra-provider'), 'b', streamed.headers.get('x-arbitra-route'));
    assert.match(streamed.headers.get('x-arbitra-route'), /hedge: the first choice had not answered/);
    assert.ok(streamTook < ms(1500), `streamed answer in ${streamTook} ms`);
    const events = streamed.text.split('\n').filter((l) => l.startsWith('data: '));
    assert.equal(events.at(-1), 'data: [DONE]');
    const text = events.slice(0, -1).map((l) => JSON.parse(l.slice(6))).map((c) => c.choices?.[0]?.delta?.content ?? '').join('');
    assert.equal(text.trim().split(/\s+/).length, 8, `one whole answer, no duplicate: ${text}`);
    assert.ok(gw.alive);
  });

  test('deferred requests: 202 and a job id, served by cost with no latency bar, result by id', T, async () => {
    const a = await sim('    ttft_ms: 400\n');  // cheap, but slower than the group's bar
    const b = await sim();
    const gw = await startGateway({ config: config(a, b, { routing: 'policy: cost, max_ttft_ms: 200' }) });
    // Teach the router that a is slow: a normal request ends up on b.
    for (let i = 0; i < 3; i++) await ask(gw);
    assert.equal((await ask(gw)).provider, 'b');
    const accepted = await ask(gw, { headers: { 'x-arbitra-defer': 'true' } });
    assert.equal(accepted.status, 202, accepted.res.text);
    const job = accepted.res.json;
    assert.match(job.id, /^defer-[0-9a-f]{16}$/);
    assert.equal(job.status, 'queued');
    assert.equal(job.url, `/v1/arbitra/deferred/${job.id}`);
    let status;
    for (let i = 0; i < 50; i++) {
      status = (await httpRequest(gw.url, job.url)).json;
      if (status.status === 'completed' || status.status === 'failed') break;
      await sleep(100);
    }
    assert.equal(status.status, 'completed', JSON.stringify(status));
    assert.equal(status.http_status, 200);
    assert.equal(status.deployment, 'a/m', 'no latency bar: the cheapest serves');
    assert.equal(status.response.object, 'chat.completion');
    assert.ok(status.response.choices[0].message.content.length > 0);
    const missing = await httpRequest(gw.url, '/v1/arbitra/deferred/defer-0000000000000000');
    assert.equal(missing.status, 404);
    const streamed = await httpRequest(gw.url, '/v1/chat/completions', {
      body: { model: 'g', stream: true, messages: [{ role: 'user', content: 'x' }] },
      headers: { 'x-arbitra-defer': 'true' },
    });
    assert.equal(streamed.status, 400);
    assert.match(streamed.json.error.message, /cannot stream/);
  });

  test('context overflow goes to the longer-context fallback group', T, async () => {
    const a = await sim();
    const b = await sim();
    const extra = `  short:
    deployments: [{ provider: a, model: m, context_window: 300 }]
    routing: { fallbacks: [long] }
  long:
    deployments: [{ provider: b, model: m, context_window: 100000 }]
`;
    const gw = await startGateway({ config: config(a, b, { extra }) });
    const small = await httpRequest(gw.url, '/v1/chat/completions', {
      body: { model: 'short', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] },
    });
    assert.equal(small.headers.get('x-arbitra-provider'), 'a');
    const big = await httpRequest(gw.url, '/v1/chat/completions', {
      body: { model: 'short', max_tokens: 50, messages: [{ role: 'user', content: 'word '.repeat(400) }] },
    });
    assert.equal(big.status, 200, big.text);
    assert.equal(big.headers.get('x-arbitra-provider'), 'b');
    assert.match(big.headers.get('x-arbitra-route'), /fallback group/);
  });
});
