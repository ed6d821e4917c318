// The upstream API key (given to the gateway only through SIM_KEY) must never
// come back to a caller, in a body or a header, nor appear in the gateway's
// log, whatever the upstream does with it: hostile upstreams below echo the
// key in error messages, 429s, garbage bodies and in-stream errors.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';

import {
  ARBITRA_BIN, CLIENT_KEY, SIM_KEY, assertHealthyProcess, assertNoSecret, cleanEnv, headersText, httpRequest,
  httpStream, ms, runToExit, standardConfig, startGateway, startSim, stopAll, tempFile,
} from './harness.mjs';

const T = { timeout: ms(30_000) };
let sim;
let gw;
let leaky;       // the hostile upstream
let deadPort;    // a port nobody listens on
const seen = []; // every {authorization, x-api-key, path} the hostile upstream received
const exchanges = []; // every response the gateway gave in this file

// An upstream that answers by model name and puts whatever key it was sent
// into its answers, the way real providers quote a bad key back.
function startLeakyUpstream() {
  const server = http.createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (d) => { raw += d; });
    req.on('end', () => {
      const key = (req.headers.authorization ?? '').replace(/^Bearer /, '') || req.headers['x-api-key'] || 'none';
      seen.push({ path: req.url, authorization: req.headers.authorization, apiKey: req.headers['x-api-key'] });
      let body = {};
      try { body = JSON.parse(raw); } catch { /* leave empty */ }
      const anthropic = req.url.endsWith('/v1/messages');
      const model = String(body.model ?? '');
      const errorBody = (type, message) => JSON.stringify(anthropic
        ? { type: 'error', error: { type, message } }
        : { error: { message, type, param: null, code: 'invalid_api_key' } });
      const json = (status, text, headers = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', 'x-upstream-debug': `key=${key}`, ...headers });
        res.end(text);
      };
      const sse = (events) => {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'x-upstream-debug': `key=${key}` });
        for (const e of events) res.write(e);
        res.end();
      };
      switch (model) {
        case 'leak-401': return json(401, errorBody('authentication_error', `Incorrect API key provided: ${key}. Check your key.`));
        case 'leak-403': return json(403, errorBody('permission_error', `key ${key} may not use this model`));
        case 'leak-429': return json(429, errorBody('rate_limit_error', `rate limit for key ${key}`), { 'retry-after': '3' });
        case 'leak-500': return json(500, errorBody('api_error', `internal failure handling key ${key}`));
        case 'leak-503': return json(503, `<html>upstream proxy error for ${key}</html>`, { 'content-type': 'text/html' });
        case 'leak-garbage': return json(200, `{"id": "x", "note": "${key}", "choices": [tru`);
        case 'leak-stream-error':
          if (anthropic) {
            return sse([
              `event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":5,"output_tokens":0}}}\n\n`,
              'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n',
              'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hello"}}\n\n',
              `event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"overloaded for key ${key}"}}\n\n`,
            ]);
          }
          return sse([
            'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"hello"},"finish_reason":null}]}\n\n',
            `data: {"error":{"message":"key ${key} was revoked mid-stream","type":"invalid_request_error","param":null,"code":null}}\n\n`,
          ]);
        case 'leak-stream-garbage':
          if (anthropic) {
            return sse([
              `event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":5,"output_tokens":0}}}\n\n`,
              `event: content_block_delta\ndata: {"type":"content_block_delta", "key": "${key}", tru\n\n`,
            ]);
          }
          return sse([
            'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"hello"},"finish_reason":null}]}\n\n',
            `data: {"choices": [{"delta": {"content": "${key}" tru\n\n`,
          ]);
        default: return json(404, errorBody('not_found_error', `model ${model} not found for key ${key}`));
      }
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// Sends one request and checks the whole answer (status line aside) for the key.
async function call(route, body, { stream = false, headers = {} } = {}) {
  const res = stream
    ? await httpStream(gw.url, route, { body, headers })
    : await httpRequest(gw.url, route, { body, headers });
  exchanges.push(res);
  assertNoSecret(res.text, `the body of ${route} ${JSON.stringify(body).slice(0, 80)}`);
  assertNoSecret(headersText(res.headers), `the headers of ${route} ${body.model}`);
  return res;
}

const chat = (model, extra = {}) => ({ model, messages: [{ role: 'user', content: 'hi' }], ...extra });
const msg = (model, extra = {}) => ({ model, max_tokens: 32, messages: [{ role: 'user', content: 'hi' }], ...extra });

before(async () => {
  sim = await startSim();
  leaky = await startLeakyUpstream();
  deadPort = await freePort();
  const lp = leaky.address().port;
  gw = await startGateway({
    config: standardConfig(sim.port, {
      providers: `  leakoa:
    kind: openai
    base_url: http://127.0.0.1:${lp}/v1
    api_key: \${SIM_KEY}
  leakant:
    kind: anthropic
    base_url: http://127.0.0.1:${lp}
    api_key: \${SIM_KEY}
  dead:
    kind: openai
    base_url: http://127.0.0.1:${deadPort}/v1
    api_key: \${SIM_KEY}
    timeouts: { connect_ms: 1000 }
`,
      models: '  leak-fallback: [{ provider: leakoa, model: leak-500 }, { provider: leakant, model: leak-401 }]\n',
    }),
  });
});
after(async () => {
  await stopAll();
  leaky?.close();
});

describe('the upstream key is used but never shown', () => {
  test('the key is sent upstream as the provider expects, never the caller\'s key', T, async () => {
    seen.length = 0;
    await call('/v1/chat/completions', chat('leakoa/leak-401'), { headers: { authorization: `Bearer ${CLIENT_KEY}` } });
    await call('/v1/messages', msg('leakant/leak-401'), { headers: { 'x-api-key': CLIENT_KEY } });
    const openaiSide = seen.find((s) => s.path === '/v1/chat/completions');
    const anthropicSide = seen.find((s) => s.path === '/v1/messages');
    assert.ok(openaiSide && anthropicSide, `both upstream kinds were reached: ${JSON.stringify(seen)}`);
    assert.equal(openaiSide.authorization, `Bearer ${SIM_KEY}`, 'OpenAI kind: Bearer with the configured key');
    assert.equal(anthropicSide.apiKey, SIM_KEY, 'Anthropic kind: x-api-key with the configured key');
    assert.equal(anthropicSide.authorization, undefined, 'no caller Authorization forwarded to the Anthropic upstream');
  });

  test('upstream 4xx passthrough (401/403/404/429) keeps status and message, not the key', T, async () => {
    for (const [model, status] of [['leak-401', 401], ['leak-403', 403], ['leak-429', 429]]) {
      const openai = await call('/v1/chat/completions', chat(`leakoa/${model}`));
      assert.equal(openai.status, status, `${model}: ${openai.text}`);
      assert.equal(typeof openai.json?.error?.message, 'string');
      const anthropic = await call('/v1/messages', msg(`leakant/${model}`));
      assert.equal(anthropic.status, status, `${model} on /v1/messages: ${anthropic.text}`);
      assert.equal(anthropic.json?.type, 'error');
    }
    const r401 = await call('/v1/chat/completions', chat('leakoa/leak-401'));
    assert.match(r401.json.error.message, /Incorrect API key provided/, 'the useful part of the message survives');
    const r429 = await call('/v1/chat/completions', chat('leakoa/leak-429'));
    assert.equal(r429.headers.get('retry-after'), '3');
    const r404 = await call('/v1/chat/completions', chat('leakoa/leak-unknown'));
    assert.equal(r404.status, 404);
  });

  test('cross-format passthrough of upstream errors does not leak either', T, async () => {
    for (const model of ['leak-401', 'leak-429', 'leak-500']) {
      await call('/v1/messages', msg(`leakoa/${model}`));
      await call('/v1/chat/completions', chat(`leakant/${model}`));
    }
  });

  test('upstream 5xx, HTML error pages and garbage: 502 without the key', T, async () => {
    for (const model of ['leak-500', 'leak-503', 'leak-garbage']) {
      const openai = await call('/v1/chat/completions', chat(`leakoa/${model}`));
      assert.equal(openai.status, 502, `${model}: ${openai.text}`);
      const anthropic = await call('/v1/messages', msg(`leakant/${model}`));
      assert.equal(anthropic.status, 502, `${model} on /v1/messages: ${anthropic.text}`);
      await call('/v1/chat/completions', chat(`leakoa/${model}`, { stream: true }));
      await call('/v1/messages', msg(`leakant/${model}`, { stream: true }));
    }
  });

  test('fallback chain where every deployment leaks: the last error is still redacted', T, async () => {
    const res = await call('/v1/chat/completions', chat('leak-fallback'));
    assert.equal(res.status, 401, res.text);
  });

  test('in-stream upstream errors and mid-stream garbage are relayed without the key', T, async () => {
    for (const model of ['leak-stream-error', 'leak-stream-garbage']) {
      const openai = await call('/v1/chat/completions', chat(`leakoa/${model}`, { stream: true }), { stream: true });
      assert.equal(openai.status, 200);
      assert.match(openai.text, /hello/, 'the content before the failure was relayed');
      assert.match(openai.text, /"error"/, `${model}: an error event follows: ${openai.text}`);
      const anthropic = await call('/v1/messages', msg(`leakant/${model}`, { stream: true }), { stream: true });
      if (model === 'leak-stream-garbage' && anthropic.status !== 200) {
        // Garbage before any content: the request fails over, and with no
        // deployment left the caller gets a plain error (when the upstream's
        // first event arrived alone, the stream had started: an error event).
        assert.equal(anthropic.status, 502, anthropic.text);
        assert.match(anthropic.text, /"type":"error"/);
      } else {
        assert.equal(anthropic.status, 200);
        assert.match(anthropic.text, /event: error/, `${model}: an error event follows: ${anthropic.text}`);
      }
      // and translated
      await call('/v1/messages', msg(`leakoa/${model}`, { stream: true }), { stream: true });
      await call('/v1/chat/completions', chat(`leakant/${model}`, { stream: true }), { stream: true });
    }
  });

  test('the SDK error objects carry no key', T, async () => {
    const client = new OpenAI({ apiKey: CLIENT_KEY, baseURL: `${gw.url}/v1`, maxRetries: 0 });
    for (const model of ['leakoa/leak-401', 'leakoa/leak-500', 'leakant/leak-403']) {
      const err = await client.chat.completions.create(chat(model)).then(() => null, (e) => e);
      assert.ok(err instanceof OpenAI.APIError, `${model} fails`);
      assertNoSecret(`${err.message} ${JSON.stringify(err.error)} ${headersText(err.headers)}`, `the SDK error for ${model}`);
    }
  });

  test('connection failures and embeddings errors do not leak', T, async () => {
    const dead = await call('/v1/chat/completions', chat('dead/anything'));
    assert.equal(dead.status, 502, dead.text);
    const emb = await call('/v1/embeddings', { model: 'leakoa/leak-401', input: 'x' });
    assert.equal(emb.status, 401, emb.text);
    const emb500 = await call('/v1/embeddings', { model: 'leakoa/leak-500', input: 'x' });
    assert.equal(emb500.status, 502, emb500.text);
  });

  test('normal traffic through the simulator does not leak', T, async () => {
    await call('/v1/chat/completions', chat('quick-test'));
    await call('/v1/chat/completions', chat('claude-quick', { stream: true }), { stream: true });
    await call('/v1/messages', msg('claude-quick'));
    await call('/v1/messages', msg('quick-test', { stream: true }), { stream: true });
    await call('/v1/chat/completions', chat('flaky-test'));
    await call('/v1/chat/completions', chat('no-such-model'));
    await call('/v1/embeddings', { model: 'embed-test', input: 'x' });
    const models = await httpRequest(gw.url, '/v1/models');
    assertNoSecret(models.text, '/v1/models');
    const ready = await httpRequest(gw.url, '/readyz');
    assertNoSecret(ready.text, '/readyz');
  });

  test('the gateway log never contains the key', T, async () => {
    assert.ok(exchanges.length > 30, `many exchanges checked (${exchanges.length})`);
    assertHealthyProcess(gw);
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(gw.stderr.length > 0, 'the gateway logged something');
    assertNoSecret(gw.stderr, "arbitra's stderr");
    assertNoSecret(gw.stdout, "arbitra's stdout");
  });
});

describe('keys in configuration', () => {
  test('an inline api_key is refused at start-up without printing it', T, async () => {
    const literal = 'sk-proj-InlineLiteralSecret0123456789abcdefXYZ';
    const file = tempFile('inline.yaml', `providers:\n  p:\n    kind: openai\n    base_url: http://127.0.0.1:9/v1\n    api_key: ${literal}\n`);
    const result = await runToExit(ARBITRA_BIN, ['serve', '--config', file, '--port', '0'], { env: cleanEnv() });
    assert.equal(result.timedOut, false);
    assert.notEqual(result.code, 0, 'refuses to start');
    assert.match(result.stderr, /api_key/);
    assertNoSecret(result.stderr + result.stdout, 'the start-up error', literal);
  });

  test('a referenced variable that is not set is named, not guessed', T, async () => {
    const file = tempFile('unset.yaml', 'providers:\n  p:\n    kind: openai\n    base_url: http://127.0.0.1:9/v1\n    api_key: ${ARBITRA_TEST_UNSET_KEY}\n');
    const result = await runToExit(ARBITRA_BIN, ['serve', '--config', file, '--port', '0'], { env: cleanEnv() });
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /ARBITRA_TEST_UNSET_KEY/);
  });

  test('a key from the environment (no config file) is not logged or echoed', T, async () => {
    const envGw = await startGateway({
      env: cleanEnv({ OPENAI_API_KEY: SIM_KEY, OPENAI_BASE_URL: `http://127.0.0.1:${leaky.address().port}/v1` }),
    });
    const res = await httpRequest(envGw.url, '/v1/chat/completions', { body: chat('openai/leak-401') });
    assert.equal(res.status, 401);
    assertNoSecret(res.text, 'the env-mode error body');
    assertNoSecret(headersText(res.headers), 'the env-mode error headers');
    assert.match(envGw.stderr, /OPENAI_API_KEY/, 'the log names where the key came from');
    assertNoSecret(envGw.stderr, 'the env-mode log');
    await envGw.stop();
  });
});
