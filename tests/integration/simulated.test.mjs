// Quick-start mode: `arbitra serve` with no config and no provider in the
// environment serves from its built-in simulator, and says so on every
// response and in its log; start-up refuses a public bind without
// --allow-public; a provider in the environment turns the simulator off.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';

import {
  ARBITRA_BIN, CLIENT_KEY, SIM_KEY, assertAnthropicError, assertHealthyProcess, assertOpenAIError, cleanEnv,
  httpRequest, httpStream, ms, parseSSE, rawExchange, rawRequest, runToExit, startGateway, startSim, stopAll, words,
} from './harness.mjs';

const T = { timeout: ms(30_000) };
after(stopAll);

describe('no config, no provider in the environment', () => {
  let gw;
  before(async () => {
    // Provider variables are stripped by cleanEnv(); set decoys that must not count.
    gw = await startGateway({ env: cleanEnv({ SIM_KEY, OPENAI_API_KEY: '', ANTHROPIC_API_KEY: '' }) });
  });

  test('the listening line says (simulated) and a log line says simulated', T, async () => {
    assert.equal(gw.simulated, true, `stdout: ${gw.stdout}`);
    assert.match(gw.stdout, /arbitra listening on http:\/\/127\.0\.0\.1:\d+ \(simulated\)/);
    assert.ok(gw.stderr.split('\n').some((line) => /simulat/i.test(line)), `a log line mentions the simulator:\n${gw.stderr}`);
  });

  test('OpenAI chat: served by the simulator and labelled', T, async () => {
    const res = await httpRequest(gw.url, '/v1/chat/completions', {
      body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] },
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.get('x-arbitra-simulated'), 'true');
    assert.equal(res.headers.get('x-arbitra-provider'), 'simulated');
    assert.equal(res.headers.get('x-arbitra-deployment'), 'simulated/gpt-4o-mini');
    assert.equal(res.json.object, 'chat.completion');
    assert.equal(words(res.json.choices[0].message.content).length, 16, 'the simulator default of 16 tokens');
  });

  test('any model name works; claude* goes to the Anthropic side', T, async () => {
    const anyName = await httpRequest(gw.url, '/v1/chat/completions', {
      body: { model: 'my-made-up-model', messages: [{ role: 'user', content: 'hello' }] },
    });
    assert.equal(anyName.status, 200);
    assert.equal(anyName.headers.get('x-arbitra-deployment'), 'simulated/my-made-up-model');

    const claude = await httpRequest(gw.url, '/v1/messages', {
      body: { model: 'claude-3-5-haiku-latest', max_tokens: 100, messages: [{ role: 'user', content: 'hello' }] },
      headers: { 'anthropic-version': '2023-06-01' },
    });
    assert.equal(claude.status, 200, claude.text);
    assert.equal(claude.headers.get('x-arbitra-simulated'), 'true');
    assert.equal(claude.headers.get('x-arbitra-provider'), 'simulated-anthropic');
    assert.equal(claude.json.type, 'message');

    const crossed = await httpRequest(gw.url, '/v1/chat/completions', {
      body: { model: 'claude-sonnet-4', messages: [{ role: 'user', content: 'hello' }] },
    });
    assert.equal(crossed.status, 200);
    assert.equal(crossed.headers.get('x-arbitra-provider'), 'simulated-anthropic');
    assert.equal(crossed.json.object, 'chat.completion', 'translated to the OpenAI shape');
  });

  test('the official SDKs work against the simulated gateway', T, async () => {
    const openai = new OpenAI({ apiKey: CLIENT_KEY, baseURL: `${gw.url}/v1`, maxRetries: 0 });
    const { data, response } = await openai.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    assert.equal(response.headers.get('x-arbitra-simulated'), 'true');
    assert.equal(data.choices[0].finish_reason, 'stop');

    const anthropic = new Anthropic({ apiKey: CLIENT_KEY, baseURL: gw.url, maxRetries: 0 });
    const message = await anthropic.messages.stream({
      model: 'claude-3-5-haiku-latest', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }],
    }).finalMessage();
    assert.equal(message.stop_reason, 'end_turn');
    assert.equal(words(message.content[0].text).length, 16);
  });

  test('streamed responses are labelled too', T, async () => {
    const res = await httpStream(gw.url, '/v1/chat/completions', {
      body: { model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'hello' }] },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-arbitra-simulated'), 'true');
    assert.equal(parseSSE(res.text).at(-1).data, '[DONE]');
  });

  test('embeddings and models are labelled', T, async () => {
    const emb = await httpRequest(gw.url, '/v1/embeddings', { body: { model: 'text-embedding-3-small', input: 'hello' } });
    assert.equal(emb.status, 200, emb.text);
    assert.equal(emb.headers.get('x-arbitra-simulated'), 'true');
    assert.equal(emb.json.data[0].embedding.length, 8);

    const models = await httpRequest(gw.url, '/v1/models');
    assert.equal(models.status, 200);
    assert.equal(models.headers.get('x-arbitra-simulated'), 'true');
    const ids = models.json.data.map((m) => m.id);
    assert.ok(ids.includes('gpt-4o-mini') && ids.includes('claude-3-5-haiku-latest'), `example models listed: ${ids}`);
  });

  test('errors are labelled too', T, async () => {
    const badJson = await httpRequest(gw.url, '/v1/chat/completions', { body: '{"model":' });
    assert.equal(badJson.status, 400);
    assertOpenAIError(badJson.json, 400, 'bad JSON, simulated');
    assert.equal(badJson.headers.get('x-arbitra-simulated'), 'true');

    const badAnthropic = await httpRequest(gw.url, '/v1/messages', { body: '{"model":' });
    assert.equal(badAnthropic.status, 400);
    assertAnthropicError(badAnthropic.json, 'bad JSON on /v1/messages, simulated');
    assert.equal(badAnthropic.headers.get('x-arbitra-simulated'), 'true');

    const noRoute = await httpRequest(gw.url, '/v1/nothing-here');
    assert.equal(noRoute.status, 404);
    assert.equal(noRoute.headers.get('x-arbitra-simulated'), 'true');
  });

  test('health endpoints are labelled and /readyz reports simulated', T, async () => {
    const health = await httpRequest(gw.url, '/healthz');
    assert.equal(health.status, 200);
    assert.equal(health.headers.get('x-arbitra-simulated'), 'true', '/healthz carries x-arbitra-simulated');
    const ready = await httpRequest(gw.url, '/readyz');
    assert.equal(ready.status, 200);
    assert.equal(ready.json.simulated, true);
    assert.equal(ready.headers.get('x-arbitra-simulated'), 'true', '/readyz carries x-arbitra-simulated');
  });

  test('protocol-level errors (431, 413) are labelled too', T, async () => {
    const big = await rawExchange(gw.port, rawRequest('POST', '/v1/chat/completions', {
      body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] }, headers: { 'X-Big': 'b'.repeat(40_000) },
    }));
    assert.equal(big?.status, 431);
    assert.equal(big.headers['x-arbitra-simulated'], 'true', `431 carries x-arbitra-simulated: ${big.raw}`);
  });

  test('the per-request log line says simulated', T, async () => {
    const marker = `model-for-log-${Date.now()}`;
    const res = await httpRequest(gw.url, '/v1/chat/completions', { body: { model: marker, messages: [{ role: 'user', content: 'x' }] } });
    assert.equal(res.status, 200);
    const deadline = Date.now() + 2000;
    let line;
    while (!(line = gw.stderr.split('\n').find((l) => l.includes(marker))) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(line, `a log line for the request:\n${gw.stderr}`);
    assert.match(line, /simulated/);
    assertHealthyProcess(gw);
  });
});

describe('start-up', () => {
  test('--host 0.0.0.0 without --allow-public exits non-zero and explains why', T, async () => {
    const result = await runToExit(ARBITRA_BIN, ['serve', '--host', '0.0.0.0', '--port', '0'], { env: cleanEnv() });
    assert.equal(result.timedOut, false, 'exits instead of serving');
    assert.notEqual(result.code, 0);
    assert.doesNotMatch(result.stdout, /listening/);
    assert.match(result.stderr, /--allow-public/);
    assert.match(result.stderr, /0\.0\.0\.0/);
  });

  test('--host 0.0.0.0 --allow-public serves', T, async () => {
    const gw = await startGateway({ args: ['--host', '0.0.0.0', '--allow-public'] });
    assert.equal(gw.host, '0.0.0.0');
    const res = await httpRequest(gw.url, '/healthz');
    assert.equal(res.status, 200);
    await gw.stop();
  });

  test('unknown options and bad values exit non-zero with a message', T, async () => {
    const unknown = await runToExit(ARBITRA_BIN, ['serve', '--bogus'], { env: cleanEnv() });
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /--bogus/);
    const badPort = await runToExit(ARBITRA_BIN, ['serve', '--port', 'eighty'], { env: cleanEnv() });
    assert.notEqual(badPort.code, 0);
    assert.match(badPort.stderr, /--port/);
  });

  test('--quiet keeps the simulator warning but drops per-request lines', T, async () => {
    const gw = await startGateway({ args: ['--quiet'] });
    const res = await httpRequest(gw.url, '/v1/chat/completions', { body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] } });
    assert.equal(res.status, 200);
    await new Promise((r) => setTimeout(r, 200));
    assert.match(gw.stderr, /simulat/i);
    assert.doesNotMatch(gw.stderr, /request id=/);
    await gw.stop();
  });

  test('a provider in the environment turns the simulator off', T, async () => {
    const sim = await startSim();
    const gw = await startGateway({
      env: cleanEnv({ OPENAI_API_KEY: SIM_KEY, OPENAI_BASE_URL: `http://127.0.0.1:${sim.port}/v1` }),
    });
    assert.equal(gw.simulated, false, `stdout: ${gw.stdout}`);
    const res = await httpRequest(gw.url, '/v1/chat/completions', {
      body: { model: 'openai/quick', messages: [{ role: 'user', content: 'hello' }] },
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.get('x-arbitra-simulated'), null);
    assert.equal(res.headers.get('x-arbitra-deployment'), 'openai/quick');
    assert.equal(words(res.json.choices[0].message.content).length, 12);
    const unknown = await httpRequest(gw.url, '/v1/chat/completions', {
      body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] },
    });
    assert.equal(unknown.status, 404, 'no simulator fallback for unknown names');
    assert.match(unknown.json.error.message, /openai\/<model>/, 'the 404 says how to address the provider');
    assert.ok(!gw.stderr.includes(SIM_KEY), 'the key from the environment is not logged');
    await gw.stop();
    await sim.stop();
  });
});
