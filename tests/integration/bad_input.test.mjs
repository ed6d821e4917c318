// Hostile and broken input, byte by byte over node:net, from both sides: bad
// clients (malformed JSON, wrong types, oversized bodies and headers, slow
// senders, pipelining) and bad upstreams (garbage, disconnects, hangs, 5xx).
// Every error must come back in the caller's wire format with the right
// status, and the gateway must keep serving after each one.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';

import {
  RawConnection, assertAnthropicError, assertCleanStderr, assertHealthyProcess, assertOpenAIError,
  httpRequest, httpStream, ms, parseSSE, rawExchange, rawRequest, standardConfig, startGateway, startSim,
  stopAll, words,
} from './harness.mjs';

let sim;
let gw;
let rogue;                 // an upstream that misbehaves in ways the simulator does not
const rogueClosed = [];    // model names whose upstream connection the gateway closed

const CHUNK = (text) => `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: text }, finish_reason: null }] })}\n\n`;

function startRogueUpstream() {
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => { raw += d; });
    req.on('end', () => {
      let model = '';
      try { model = JSON.parse(raw).model; } catch { /* empty */ }
      res.on('close', () => rogueClosed.push(model));
      switch (model) {
        case 'stall-after-first':  // headers and one chunk, then silence
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.write(CHUNK('hello'));
          return;
        case 'endless': {  // a chunk every 50 ms until the gateway hangs up
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          const timer = setInterval(() => res.write(CHUNK(' more')), 50);
          res.on('close', () => clearInterval(timer));
          return;
        }
        case 'no-done':  // a finished answer, but the stream closes without [DONE]
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.write(CHUNK('hello'));
          res.end(`data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`);
          return;
        case 'half-body':  // promises 500 bytes, sends 40, drops the connection
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': '500' });
          res.write('{"id":"x","object":"chat.completion",');
          setTimeout(() => res.socket.destroy(), 20);
          return;
        default:
          res.writeHead(404, { 'content-type': 'application/json' });
          res.end('{"error":{"message":"no such model","type":"invalid_request_error"}}');
      }
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

before(async () => {
  sim = await startSim();
  rogue = await startRogueUpstream();
  gw = await startGateway({
    config: standardConfig(sim.port, {
      providers: `  rogue:
    kind: openai
    base_url: http://127.0.0.1:${rogue.address().port}/v1
    api_key: \${SIM_KEY}
    timeouts: { first_byte_ms: 2000, idle_ms: 500 }
`,
    }),
  });
});
after(async () => {
  await stopAll();
  rogue?.close();
  rogue?.closeAllConnections?.();
});

const T = { timeout: ms(30_000) };
const CHAT = '/v1/chat/completions';
const MESSAGES = '/v1/messages';
const hi = (model, extra = {}) => ({ model, messages: [{ role: 'user', content: 'hi' }], ...extra });
const hiAnthropic = (model, extra = {}) => ({ model, max_tokens: 64, messages: [{ role: 'user', content: 'hi' }], ...extra });

async function post(route, body, headers = {}) {
  const res = await rawExchange(gw.port, rawRequest('POST', route, { body, headers }));
  assert.ok(res, `${route}: the server answered instead of closing`);
  return res;
}

// After each hostile exchange: the gateway still answers a plain request.
async function assertStillServing() {
  assertHealthyProcess(gw);
  const res = await httpRequest(gw.url, CHAT, { body: hi('quick-test') });
  assert.equal(res.status, 200, `normal request after bad input: ${res.text}`);
  assert.equal(words(res.json.choices[0].message.content).length, 12);
}

describe('malformed and mistyped requests', () => {
  test('truncated JSON: 400 in each caller format', T, async () => {
    const truncated = '{"model":"quick-test","messages":[{"role":"user","content":"hi"';
    const openai = await post(CHAT, truncated);
    assert.equal(openai.status, 400);
    assertOpenAIError(openai.json, 400, 'truncated JSON on /v1/chat/completions');
    assert.equal(openai.json.error.type, 'invalid_request_error');
    assert.match(openai.headers['x-arbitra-request-id'] ?? '', /\S{6,}/, 'errors carry a request id');

    const anthropic = await post(MESSAGES, truncated.replace('"messages"', '"max_tokens":5,"messages"'));
    assert.equal(anthropic.status, 400);
    assertAnthropicError(anthropic.json, 'truncated JSON on /v1/messages');
    assert.equal(anthropic.json.error.type, 'invalid_request_error');

    const embeddings = await post('/v1/embeddings', '{"model":"embed-test","input":["a"');
    assert.equal(embeddings.status, 400);
    assertOpenAIError(embeddings.json, 400, 'truncated JSON on /v1/embeddings');
    await assertStillServing();
  });

  test('bodies that are not a JSON object: 400', T, async () => {
    for (const body of ['', 'hello', '[1,2,3]', '"a string"', 'null', '{"model":"quick-test",}']) {
      const res = await post(CHAT, body);
      assert.equal(res.status, 400, `body ${JSON.stringify(body)} -> ${res.status} ${res.body}`);
      assertOpenAIError(res.json, 400, `body ${JSON.stringify(body)}`);
      const anthropic = await post(MESSAGES, body);
      assert.equal(anthropic.status, 400, `/v1/messages body ${JSON.stringify(body)} -> ${anthropic.status}`);
      assertAnthropicError(anthropic.json, `/v1/messages body ${JSON.stringify(body)}`);
    }
    await assertStillServing();
  });

  test('deeply nested JSON is refused with 400 (no stack exhaustion), in both formats', T, async () => {
    const deep = '['.repeat(5000) + ']'.repeat(5000);
    const openai = await post(CHAT, `{"model":"claude-quick","messages":[{"role":"user","content":"hi"}],"x":${deep}}`);
    assert.equal(openai.status, 400);
    assertOpenAIError(openai.json, 400, 'deep JSON');
    const nestedSchema = `{"type":"object","properties":{"a":${'{"x":'.repeat(5000)}1${'}'.repeat(5000)}}}`;
    const anthropic = await post(MESSAGES, `{"model":"quick-test","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"tools":[{"name":"f","input_schema":${nestedSchema}}]}`);
    assert.equal(anthropic.status, 400);
    assertAnthropicError(anthropic.json, 'deep tool schema');
    await assertStillServing();
  });

  test('wrong types: 400 naming the field (OpenAI format)', T, async () => {
    const cases = [
      [{ model: 'quick-test', messages: 'x' }, 'messages'],
      [hi('quick-test', { max_tokens: 'ten' }), 'max_tokens'],
      [{ model: 42, messages: [{ role: 'user', content: 'hi' }] }, 'model'],
      [{ messages: [{ role: 'user', content: 'hi' }] }, 'model'],
      [{ model: 'quick-test' }, 'messages'],
      [hi('quick-test', { stream: 'yes' }), 'stream'],
      [{ model: 'quick-test', messages: [{ role: 'user', content: 7 }] }, 'content'],
      [{ model: 'quick-test', messages: [{ role: 'wizard', content: 'hi' }] }, 'role'],
    ];
    for (const [body, field] of cases) {
      const res = await post(CHAT, body);
      assert.equal(res.status, 400, `${JSON.stringify(body)} -> ${res.status} ${res.body}`);
      assertOpenAIError(res.json, 400, JSON.stringify(body));
      const named = `${res.json.error.message} ${res.json.error.param ?? ''}`;
      assert.ok(named.includes(field), `error for ${JSON.stringify(body)} names "${field}": ${res.body}`);
    }
    await assertStillServing();
  });

  test('wrong types: 400 naming the field (Anthropic format)', T, async () => {
    const cases = [
      [{ model: 'claude-quick', max_tokens: 10, messages: 'x' }, 'messages'],
      [hiAnthropic('claude-quick', { max_tokens: 'ten' }), 'max_tokens'],
      [{ model: 'claude-quick', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }], system: 5 }, 'system'],
      [{ model: 'claude-quick', max_tokens: 10, messages: [{ role: 'user', content: [{ type: 'text', text: 9 }] }] }, 'text'],
    ];
    for (const [body, field] of cases) {
      const res = await post(MESSAGES, body);
      assert.equal(res.status, 400, `${JSON.stringify(body)} -> ${res.status} ${res.body}`);
      assertAnthropicError(res.json, JSON.stringify(body));
      assert.equal(res.json.error.type, 'invalid_request_error');
      assert.ok(res.json.error.message.includes(field), `error names "${field}": ${res.body}`);
    }
    await assertStillServing();
  });

  test('unknown route 404, wrong method 405, malformed request line 400', T, async () => {
    const route = await rawExchange(gw.port, rawRequest('GET', '/v1/nope'));
    assert.equal(route.status, 404);
    assertOpenAIError(route.json, 404, 'unknown route');

    const method = await rawExchange(gw.port, rawRequest('GET', CHAT));
    assert.equal(method.status, 405);
    assertOpenAIError(method.json, 405, 'GET on chat completions');

    const messagesMethod = await rawExchange(gw.port, rawRequest('GET', MESSAGES));
    assert.equal(messagesMethod.status, 405);
    assertAnthropicError(messagesMethod.json, 'GET on /v1/messages');

    const garbage = await rawExchange(gw.port, 'THIS IS NOT HTTP\r\n\r\n');
    if (garbage !== null) assert.equal(garbage.status, 400, `malformed request line: ${garbage.raw}`);

    const binary = await rawExchange(gw.port, Buffer.from([0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03, 0x0d, 0x0a, 0x0d, 0x0a]));
    if (binary !== null) assert.equal(binary.status, 400, 'a TLS hello on the plain port gets 400 or a close');
    await assertStillServing();
  });
});

describe('smuggling and injection', () => {
  test('ambiguous framing (bad or duplicate Content-Length, Content-Length with chunked) is refused with 400', T, async () => {
    const cases = [
      'Content-Length: -5\r\n\r\n',
      'Content-Length: 5\r\nContent-Length: 7\r\n\r\n{}',
      'Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n',
      'Content-Length: 99999999999999999999999\r\n\r\n',
      'Transfer-Encoding: gzip, chunked, identity\r\n\r\n0\r\n\r\n',
    ];
    for (const tail of cases) {
      const conn = await RawConnection.open(gw.port);
      try {
        await conn.write(`POST ${CHAT} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${tail}`);
        const res = await conn.readResponse({ timeoutMs: ms(3000) });
        assert.ok(res, `answered: ${JSON.stringify(tail)}`);
        assert.equal(res.status, 400, `${JSON.stringify(tail)} -> ${res.status}`);
        assertOpenAIError(res.json, 400, JSON.stringify(tail));
        assert.ok(await conn.waitClosed(ms(3000)), 'the connection is closed after a framing error');
      } finally {
        conn.destroy();
      }
    }
    await assertStillServing();
  });

  test('a model name with CR/LF or NUL cannot inject response headers or split the response', T, async () => {
    for (const model of ['simoa/quick\r\nX-Injected: yes\r\n\r\nHTTP/1.1 200 OK', 'simoa/quick\r\nX-Injected: yes', 'simoa/quick\u0000X-Injected']) {
      const conn = await RawConnection.open(gw.port);
      try {
        await conn.write(rawRequest('POST', CHAT, { body: hi(model) }));
        const res = await conn.readResponse({ timeoutMs: ms(3000) });
        assert.ok(res, 'answered');
        assert.equal(res.headers['x-injected'], undefined, `no injected header: ${JSON.stringify(res.raw.slice(0, 400))}`);
        const head = res.raw.slice(0, res.raw.indexOf('\r\n\r\n'));
        for (const line of head.split('\r\n')) {
          assert.doesNotMatch(line, /[\u0000-\u0008\u000a-\u001f\u007f]/, `no control bytes in a header line: ${JSON.stringify(line)}`);
        }
        await conn.waitForChange(Date.now() + 200);
        assert.equal(conn.buffer.length, 0, `nothing after the response: ${JSON.stringify(conn.buffer.toString('latin1').slice(0, 200))}`);
      } finally {
        conn.destroy();
      }
    }
    await assertStillServing();
  });

  test('a model name with a newline cannot forge log lines', T, async () => {
    await post(CHAT, hi('simoa/quick\nFAKE-LOG-LINE status=200 model=forged'));
    await post(CHAT, hi('no-such-model\nFAKE-LOG-LINE status=200 model=forged'));
    await new Promise((r) => setTimeout(r, 200));
    const forged = gw.stderr.split('\n').filter((line) => line.startsWith('FAKE-LOG-LINE'));
    assert.deepEqual(forged, [], 'every log line starts with a timestamp; control characters in logged values are escaped');
  });
});

describe('limits', () => {
  test('body over max_body_bytes (65536): 413 in the caller format; just under is served', T, async () => {
    // Declared length over the limit: refused as soon as the headers are read.
    const head = (route) => `POST ${route} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200000\r\n\r\n{"model":"quick-test","messages":[`;
    const openai = await rawExchange(gw.port, head(CHAT));
    assert.ok(openai, 'answered before the body was sent');
    assert.equal(openai.status, 413);
    assertOpenAIError(openai.json, 413, 'oversized body');


    // Chunked, no declared length: refused once the chunks pass the limit.
    const conn = await RawConnection.open(gw.port);
    try {
      await conn.write(`POST ${CHAT} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`);
      // Paced writes, so the server has read everything sent when it refuses
      // (closing on unread bytes would reset the connection and lose the answer).
      const chunk = 'a'.repeat(8 * 1024);
      for (let i = 0; i < 12 && !conn.closed && conn.buffer.length === 0; i++) {
        await conn.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`).catch(() => {});
        await conn.waitForChange(Date.now() + 40);
      }
      const answered = await conn.readResponse({ timeoutMs: ms(5000) });
      assert.ok(answered, 'chunked oversized body answered');
      assert.equal(answered.status, 413);
    } finally {
      conn.destroy();
    }

    // A 60 KB prompt is within the limit.
    const big = await post(CHAT, { model: 'quick-test', messages: [{ role: 'user', content: 'w '.repeat(30_000) }] });
    assert.equal(big.status, 200, `a 60 KB body is accepted: ${big.body.slice(0, 300)}`);
    await assertStillServing();
  });

  test('a client that uploads its whole oversized body (5 MB) still reads the 413', T, async () => {
    // What a normal HTTP client does: send the entire body, then read. If the
    // server closes right after answering, with the upload still arriving, the
    // client gets a reset (EPIPE/ECONNRESET) instead of the 413 - and SDKs
    // retry connection errors, re-uploading the body each time.
    const outcomes = [];
    for (let i = 0; i < 3; i++) {
      try {
        const res = await httpRequest(gw.url, CHAT, { body: { model: 'quick-test', messages: [{ role: 'user', content: 'x'.repeat(5_000_000) }] } });
        outcomes.push(res.status);
      } catch (error) {
        outcomes.push(error.cause?.code ?? error.message);
      }
    }
    assert.deepEqual(outcomes, [413, 413, 413]);
    await assertStillServing();
  });

  test('413 on /v1/messages comes in the Anthropic error format', T, async () => {
    const declared = await rawExchange(gw.port, `POST ${MESSAGES} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200000\r\n\r\n{"model":"claude-quick",`);
    assert.ok(declared, 'answered');
    assert.equal(declared.status, 413);
    assertAnthropicError(declared.json, 'oversized body (declared Content-Length) on /v1/messages');
    assert.equal(declared.json.error.type, 'request_too_large');
  });

  test('headers over max_header_bytes (8192): 431; a 4 KB header is fine', T, async () => {
    const big = await rawExchange(gw.port, rawRequest('POST', CHAT, { body: hi('quick-test'), headers: { 'X-Big': 'b'.repeat(12_000) } }));
    assert.ok(big, 'answered');
    assert.equal(big.status, 431);
    assertOpenAIError(big.json, 431, 'oversized headers');

    const many = await rawExchange(gw.port, rawRequest('POST', CHAT, {
      body: hi('quick-test'),
      headers: Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`X-H${i}`, 'v'.repeat(40)])),
    }));
    assert.equal(many.status, 431, 'many small headers count too');

    const fine = await rawExchange(gw.port, rawRequest('POST', CHAT, { body: hi('quick-test'), headers: { 'X-Big': 'b'.repeat(4000) } }));
    assert.equal(fine.status, 200);
    await assertStillServing();
  });

  test('431 on /v1/messages comes in the Anthropic error format', T, async () => {
    const res = await rawExchange(gw.port, rawRequest('POST', MESSAGES, { body: hiAnthropic('claude-quick'), headers: { 'X-Big': 'b'.repeat(12_000) } }));
    assert.ok(res, 'answered');
    assert.equal(res.status, 431);
    assertAnthropicError(res.json, 'oversized headers on /v1/messages');
  });

  test('slow client: half a body then silence -> 408 or close after read_timeout_ms (1000)', T, async () => {
    const conn = await RawConnection.open(gw.port);
    try {
      await conn.write(`POST ${CHAT} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{"model":"quick-test",`);
      const started = Date.now();
      const closed = await conn.waitClosed(ms(6000));
      const elapsed = Date.now() - started;
      const pending = conn.buffer.length ? conn.readResponse({ timeoutMs: 100 }) : Promise.resolve(null);
      const res = await pending;
      assert.ok(closed || res, `the stalled request was ended within 6 s (closed=${closed})`);
      if (res) {
        assert.equal(res.status, 408);
        assertOpenAIError(res.json, 408, 'slow client');
      }
      assert.ok(elapsed >= 700, `not cut before read_timeout_ms (${elapsed} ms)`);
    } finally {
      conn.destroy();
    }
    await assertStillServing();
  });

  test('slow client: half the headers then silence -> 408 or close', T, async () => {
    const conn = await RawConnection.open(gw.port);
    try {
      await conn.write(`POST ${CHAT} HTTP/1.1\r\nHost: x\r\nContent-Ty`);
      const started = Date.now();
      const closed = await conn.waitClosed(ms(6000));
      const elapsed = Date.now() - started;
      assert.ok(closed, 'connection ended within 6 s');
      if (conn.buffer.length) {
        const res = await conn.readResponse({ timeoutMs: 100 });
        assert.equal(res.status, 408);
      }
      assert.ok(elapsed >= 700, `not cut before read_timeout_ms (${elapsed} ms)`);
    } finally {
      conn.destroy();
    }
  });

  test('a connection that never sends anything is closed', T, async () => {
    const conn = await RawConnection.open(gw.port);
    try {
      const closed = await conn.waitClosed(ms(6000));
      assert.ok(closed, 'idle connection closed by the server');
      assert.equal(conn.buffer.length, 0, 'nothing is sent to a client that asked nothing');
    } finally {
      conn.destroy();
    }
    await assertStillServing();
  });
});

describe('connection handling', () => {
  test('pipelined requests on one socket are answered in order', T, async () => {
    const conn = await RawConnection.open(gw.port);
    try {
      // The first is slow (about 600 ms), the second instant: order must hold.
      await conn.write(
        rawRequest('POST', CHAT, { body: hi('gpt-test') })
        + rawRequest('GET', '/healthz')
        + rawRequest('POST', CHAT, { body: hi('quick-test') })
        + rawRequest('POST', MESSAGES, { body: hiAnthropic('claude-quick') }),
      );
      const first = await conn.readResponse();
      const second = await conn.readResponse();
      const third = await conn.readResponse();
      const fourth = await conn.readResponse();
      assert.equal(first.status, 200);
      assert.equal(first.headers['x-arbitra-deployment'], 'simoa/slow');
      assert.equal(words(first.json.choices[0].message.content).length, 20);
      assert.equal(second.status, 200);
      assert.equal(second.json.status, 'ok');
      assert.equal(third.status, 200);
      assert.equal(third.headers['x-arbitra-deployment'], 'simoa/quick');
      assert.equal(fourth.status, 200);
      assert.equal(fourth.headers['x-arbitra-deployment'], 'simant/quick');
      assert.equal(fourth.json.type, 'message');
      assert.ok(!conn.closed, 'connection kept open after pipelined requests');
    } finally {
      conn.destroy();
    }
  });

  test('a pipelined request behind a streamed one waits for the stream to end', T, async () => {
    const conn = await RawConnection.open(gw.port);
    try {
      await conn.write(rawRequest('POST', CHAT, { body: hi('gpt-test', { stream: true }) }) + rawRequest('GET', '/healthz'));
      const stream = await conn.readResponse();
      assert.equal(stream.status, 200);
      assert.match(stream.headers['content-type'], /text\/event-stream/);
      const events = parseSSE(stream.body);
      assert.equal(events.at(-1).data, '[DONE]');
      const text = events.filter((e) => e.json?.choices?.[0]?.delta?.content).map((e) => e.json.choices[0].delta.content).join('');
      assert.equal(words(text).length, 20);
      const health = await conn.readResponse();
      assert.equal(health.status, 200);
      assert.equal(health.json.status, 'ok');
    } finally {
      conn.destroy();
    }
  });

  test('keep-alive: several requests reuse one connection', T, async () => {
    const conn = await RawConnection.open(gw.port);
    try {
      for (let i = 0; i < 3; i++) {
        await conn.write(rawRequest('POST', CHAT, { body: hi('quick-test', { messages: [{ role: 'user', content: `turn ${i}` }] }) }));
        const res = await conn.readResponse();
        assert.equal(res.status, 200, `request ${i} on the same socket`);
        assert.notEqual((res.headers.connection ?? '').toLowerCase(), 'close');
        assert.ok(!conn.closed, `socket still open after request ${i}`);
      }
      await conn.write(rawRequest('GET', '/healthz', { headers: { Connection: 'close' } }));
      const last = await conn.readResponse();
      assert.equal(last.status, 200);
      assert.ok(await conn.waitClosed(ms(3000)), 'Connection: close is honoured');
    } finally {
      conn.destroy();
    }
  });

  test('HTTP/1.0 request is answered and the connection closed', T, async () => {
    const conn = await RawConnection.open(gw.port);
    try {
      await conn.write(rawRequest('POST', CHAT, { body: hi('quick-test'), version: '1.0' }));
      assert.ok(await conn.waitClosed(ms(10_000)), 'closed after the answer');
      const res = await conn.readResponse();
      assert.equal(res.status, 200);
      assert.equal(words(res.json.choices[0].message.content).length, 12);
    } finally {
      conn.destroy();
    }
  });

  test('Expect: 100-continue gets an immediate 100 Continue (curl sends it for large bodies)', T, async () => {
    const conn = await RawConnection.open(gw.port);
    try {
      const body = JSON.stringify(hi('quick-test', { messages: [{ role: 'user', content: 'x'.repeat(2000) }] }));
      await conn.write(`POST ${CHAT} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`);
      const deadline = Date.now() + 500;
      while (!conn.buffer.includes('\r\n\r\n') && !conn.closed && Date.now() < deadline) await conn.waitForChange(deadline);
      const interim = conn.buffer.toString('latin1');
      assert.match(interim, /^HTTP\/1\.1 100 Continue\r\n/, `100 Continue within 500 ms, got ${JSON.stringify(interim)}`);
      conn.buffer = conn.buffer.subarray(conn.buffer.indexOf('\r\n\r\n') + 4);
      await conn.write(body);
      const res = await conn.readResponse();
      assert.equal(res.status, 200);
    } finally {
      conn.destroy();
    }
  });

  test('chunked request body is accepted', T, async () => {
    const body = JSON.stringify(hi('quick-test'));
    const half = Math.floor(body.length / 2);
    const chunked = [body.slice(0, half), body.slice(half)].map((p) => `${Buffer.byteLength(p).toString(16)}\r\n${p}\r\n`).join('') + '0\r\n\r\n';
    const res = await rawExchange(gw.port, `POST ${CHAT} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${chunked}`);
    assert.equal(res.status, 200);
    assert.equal(words(res.json.choices[0].message.content).length, 12);
  });

  test('a client leaving mid-stream does not disturb the server', T, async () => {
    for (let i = 0; i < 3; i++) {
      const conn = await RawConnection.open(gw.port);
      await conn.write(rawRequest('POST', CHAT, { body: hi('gpt-test', { stream: true }) }));
      const deadline = Date.now() + ms(5000);
      while (!conn.buffer.includes('data:') && Date.now() < deadline) await conn.waitForChange(deadline);
      assert.ok(conn.buffer.includes('data:'), 'stream started');
      conn.destroy();
    }
    await assertStillServing();
  });

  test('concurrent requests are all served', T, async () => {
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) =>
      httpRequest(gw.url, i % 2 ? MESSAGES : CHAT, { body: i % 2 ? hiAnthropic('claude-quick') : hi('quick-test') })));
    for (const res of results) assert.equal(res.status, 200, res.text);
  });
});

describe('broken upstreams', () => {
  test('embeddings for a model with no embeddings deployment: a 400 that says so', T, async () => {
    const res = await httpRequest(gw.url, '/v1/embeddings', { body: { model: 'claude-test', input: 'x' } });
    assert.equal(res.status, 400, res.text);
    assertOpenAIError(res.json, 400, 'embeddings on an Anthropic-only model');
    assert.match(res.json.error.message, /embedding/);
    const unknown = await httpRequest(gw.url, '/v1/embeddings', { body: { model: 'no-such-model', input: 'x' } });
    assert.equal(unknown.status, 404);
  });

  test('upstream garbage (200 with a body that is not JSON) -> 502 in the caller format', T, async () => {
    const openai = await httpRequest(gw.url, CHAT, { body: hi('garbage-test') });
    assert.equal(openai.status, 502, openai.text);
    assertOpenAIError(openai.json, 502, 'garbage upstream');

    const anthropic = await httpRequest(gw.url, MESSAGES, { body: hiAnthropic('claude-garbage') });
    assert.equal(anthropic.status, 502, anthropic.text);
    assertAnthropicError(anthropic.json, 'garbage upstream on /v1/messages');
    await assertStillServing();
  });

  test('upstream garbage while streaming -> 502, or an in-stream error; the stream ends', T, async () => {
    for (const [route, body] of [[CHAT, hi('garbage-test', { stream: true })], [MESSAGES, hiAnthropic('claude-garbage', { stream: true })]]) {
      // httpStream rejects if the chunked body does not end properly, and times out on a hang.
      const res = await httpStream(gw.url, route, { body, timeoutMs: ms(10_000) });
      if (res.status === 200) {
        const events = parseSSE(res.text);
        const errorEvent = events.find((e) => e.event === 'error' || e.json?.error);
        if (route === CHAT) {
          // The garbage is a data line that is not JSON: it cannot be relayed as a chunk.
          assert.ok(errorEvent, `${route}: the stream carries an error event: ${res.text}`);
        } else {
          // The simulator's Anthropic garbage is an unnamed event, which Anthropic
          // clients skip; the stream must still end with an error or a message_stop.
          assert.ok(errorEvent || events.at(-1)?.event === 'message_stop', `${route}: the stream ends properly: ${res.text}`);
        }
      } else {
        assert.equal(res.status, 502, `${route}: ${res.text}`);
        const json = JSON.parse(res.text);
        if (route === MESSAGES) assertAnthropicError(json, 'streamed garbage');
        else assertOpenAIError(json, 502, 'streamed garbage');
      }
    }
    await assertStillServing();
  });

  test('garbage from the first deployment falls back to the next', T, async () => {
    const res = await httpRequest(gw.url, CHAT, { body: hi('garbage-fallback') });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.get('x-arbitra-deployment'), 'simant/slow');
    assert.equal(words(res.json.choices[0].message.content).length, 20);
  });

  test('streamed: garbage from the first deployment, before any content, falls back too', T, async () => {
    // The simulator's garbage stream fails in its first write, so nothing
    // useful can have reached the caller: the next deployment should serve.
    const res = await httpStream(gw.url, CHAT, { body: hi('garbage-fallback', { stream: true }), timeoutMs: ms(10_000) });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-arbitra-deployment'), 'simant/slow', `served by the fallback; got: ${res.text.slice(0, 400)}`);
    const events = parseSSE(res.text);
    assert.ok(!events.some((e) => e.json?.error), 'no error event');
    const text = events.map((e) => e.json?.choices?.[0]?.delta?.content ?? '').join('');
    assert.equal(words(text).length, 20);
  });

  test('mid-stream upstream disconnect: content, then an OpenAI error event, then the stream ends', T, async () => {
    const conn = await RawConnection.open(gw.port);
    try {
      await conn.write(rawRequest('POST', CHAT, { body: hi('dropper-test', { stream: true }) }));
      const res = await conn.readResponse({ timeoutMs: ms(10_000) });  // needs the final chunk: the stream ended
      assert.equal(res.status, 200);
      const events = parseSSE(res.body);
      const contentIndexes = events.map((e, i) => (e.json?.choices?.[0]?.delta?.content ? i : -1)).filter((i) => i >= 0);
      const errorIndex = events.findIndex((e) => e.json?.error);
      assert.ok(contentIndexes.length > 0, 'some content was relayed first');
      assert.ok(errorIndex > contentIndexes.at(-1), `an error event after the content: ${res.body.slice(-600)}`);
      assert.equal(typeof events[errorIndex].json.error.message, 'string');
      assert.ok(!events.some((e) => e.json?.choices?.[0]?.finish_reason === 'stop'), 'no fake "stop" finish');
    } finally {
      conn.destroy();
    }
    await assertStillServing();
  });

  test('mid-stream upstream disconnect on /v1/messages: an Anthropic error event, no message_stop', T, async () => {
    const res = await httpStream(gw.url, MESSAGES, { body: hiAnthropic('claude-dropper', { stream: true }), timeoutMs: ms(10_000) });
    assert.equal(res.status, 200);
    const events = parseSSE(res.text);
    assert.equal(events[0].event, 'message_start');
    assert.ok(events.some((e) => e.event === 'content_block_delta'), 'some text first');
    const error = events.find((e) => e.event === 'error');
    assert.ok(error, `an error event: ${res.text.slice(-600)}`);
    assertAnthropicError(error.json, 'in-stream error');
    assert.ok(!events.some((e) => e.event === 'message_stop'), 'no message_stop after a failure');
    await assertStillServing();
  });

  test('mid-stream disconnect, cross-format (Anthropic upstream, OpenAI caller)', T, async () => {
    const res = await httpStream(gw.url, CHAT, { body: hi('claude-dropper', { stream: true }), timeoutMs: ms(10_000) });
    assert.equal(res.status, 200);
    const events = parseSSE(res.text);
    assert.ok(events.some((e) => e.json?.choices?.[0]?.delta?.content), 'content first');
    assert.ok(events.some((e) => e.json?.error), `an error event: ${res.text.slice(-600)}`);
  });

  test('upstream disconnect before answering (non-streamed) -> 502', T, async () => {
    const res = await httpRequest(gw.url, CHAT, { body: hi('dropper-test') });
    assert.equal(res.status, 502, res.text);
    assertOpenAIError(res.json, 502, 'disconnect');
    const anthropic = await httpRequest(gw.url, MESSAGES, { body: hiAnthropic('claude-dropper') });
    assert.equal(anthropic.status, 502, anthropic.text);
    assertAnthropicError(anthropic.json, 'disconnect on /v1/messages');
  });

  test('upstream hang with first_byte_ms 500 -> 504 in time', T, async () => {
    const openai = await httpRequest(gw.url, CHAT, { body: hi('hang-test'), timeoutMs: ms(10_000) });
    assert.equal(openai.status, 504, openai.text);
    assertOpenAIError(openai.json, 504, 'hang');
    assert.ok(openai.elapsedMs >= 400 && openai.elapsedMs < ms(5000), `answered after the 500 ms timeout (${openai.elapsedMs.toFixed(0)} ms)`);

    const streamed = await httpRequest(gw.url, CHAT, { body: hi('hang-test', { stream: true }), timeoutMs: ms(10_000) });
    assert.equal(streamed.status, 504, streamed.text);

    const anthropic = await httpRequest(gw.url, MESSAGES, { body: hiAnthropic('claude-hang'), timeoutMs: ms(10_000) });
    assert.equal(anthropic.status, 504, anthropic.text);
    assertAnthropicError(anthropic.json, 'hang on /v1/messages');
    await assertStillServing();
  });

  test('upstream 500 -> 502 in the caller format', T, async () => {
    const openai = await httpRequest(gw.url, CHAT, { body: hi('flaky-test') });
    assert.equal(openai.status, 502);
    assertOpenAIError(openai.json, 502, 'upstream 500');
    const anthropic = await httpRequest(gw.url, MESSAGES, { body: hiAnthropic('claude-flaky') });
    assert.equal(anthropic.status, 502);
    assertAnthropicError(anthropic.json, 'upstream 500 on /v1/messages');
    const crossed = await httpRequest(gw.url, MESSAGES, { body: hiAnthropic('flaky-test', { stream: true }) });
    assert.equal(crossed.status, 502);
    assertAnthropicError(crossed.json, 'streamed OpenAI-side 500 on /v1/messages');
  });

  test('upstream 4xx is passed through with its status and message', T, async () => {
    const res = await httpRequest(gw.url, CHAT, { body: hi('badreq-test') });
    assert.equal(res.status, 400, res.text);
    assertOpenAIError(res.json, 400, 'upstream 400');
    assert.match(res.json.error.message, /simulated upstream failure/);

    const limited = await httpRequest(gw.url, CHAT, { body: hi('limited-test') });
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get('retry-after'), '7');
    assertOpenAIError(limited.json, 429, 'upstream 429');
    assert.equal(limited.json.error.type, 'rate_limit_error');
  });

  test('upstream stalls mid-stream past idle_ms (500): an in-stream error, then the end', T, async () => {
    const res = await httpStream(gw.url, CHAT, { body: hi('rogue/stall-after-first', { stream: true }), timeoutMs: ms(10_000) });
    assert.equal(res.status, 200);
    const events = parseSSE(res.text);
    assert.ok(events.some((e) => e.json?.choices?.[0]?.delta?.content === 'hello'), 'the first chunk was relayed');
    assert.ok(events.some((e) => e.json?.error), `an error event after the stall: ${res.text}`);
    assert.ok(res.elapsedMs < ms(5000), `ended soon after the idle timeout (${res.elapsedMs.toFixed(0)} ms)`);

    const anthropic = await httpStream(gw.url, MESSAGES, { body: hiAnthropic('rogue/stall-after-first', { stream: true }), timeoutMs: ms(10_000) });
    assert.equal(anthropic.status, 200);
    assert.ok(parseSSE(anthropic.text).some((e) => e.event === 'error'), `an Anthropic error event: ${anthropic.text}`);
  });

  test('upstream stream closed without [DONE]: the caller\'s stream still ends', T, async () => {
    const conn = await RawConnection.open(gw.port);
    try {
      await conn.write(rawRequest('POST', CHAT, { body: hi('rogue/no-done', { stream: true }) }));
      const res = await conn.readResponse({ timeoutMs: ms(5000) });  // throws on a hang or a bad chunked ending
      assert.equal(res.status, 200);
      const events = parseSSE(res.body);
      assert.ok(events.some((e) => e.json?.choices?.[0]?.delta?.content === 'hello'));
      assert.ok(events.at(-1).data === '[DONE]' || events.some((e) => e.json?.error), `ends with [DONE] or an error: ${res.body}`);
    } finally {
      conn.destroy();
    }
  });

  test('upstream drops the connection in the middle of a non-streamed body -> 502', T, async () => {
    const res = await httpRequest(gw.url, CHAT, { body: hi('rogue/half-body'), timeoutMs: ms(10_000) });
    assert.equal(res.status, 502, res.text);
    assertOpenAIError(res.json, 502, 'truncated upstream body');
  });

  test('a client that leaves mid-stream makes the gateway close the upstream request', T, async () => {
    rogueClosed.length = 0;
    const conn = await RawConnection.open(gw.port);
    await conn.write(rawRequest('POST', CHAT, { body: hi('rogue/endless', { stream: true }) }));
    const deadline = Date.now() + ms(5000);
    while (!conn.buffer.includes(' more') && Date.now() < deadline) await conn.waitForChange(deadline);
    assert.ok(conn.buffer.includes(' more'), 'the endless stream is being relayed');
    conn.destroy();
    const until = Date.now() + ms(5000);
    while (!rogueClosed.includes('endless') && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    assert.ok(rogueClosed.includes('endless'), 'the upstream connection was closed after the client left');
  });

  test('after all that: /healthz and /readyz are 200 and a normal request works', T, async () => {
    const health = await httpRequest(gw.url, '/healthz');
    assert.equal(health.status, 200);
    assert.equal(health.json.status, 'ok');
    const ready = await httpRequest(gw.url, '/readyz');
    assert.equal(ready.status, 200);
    await assertStillServing();
    const stream = await httpStream(gw.url, CHAT, { body: hi('gpt-test', { stream: true }) });
    assert.equal(stream.status, 200);
    assert.equal(parseSSE(stream.text).at(-1).data, '[DONE]');
  });

  test('SIGTERM shuts the gateway down cleanly (exit 0, nothing on stderr from sanitizers)', T, async () => {
    assertHealthyProcess(gw);
    const result = await gw.stop({ timeoutMs: ms(10_000) });
    assert.equal(result.timedOut, false, 'exited within 10 s of SIGTERM');
    assert.equal(result.signal, null, `exited by itself, not killed by ${result.signal}`);
    assert.equal(result.code, 0, `exit code 0; stderr tail: ${gw.stderr.slice(-2000)}`);
    assertCleanStderr(gw);
    assertHealthyProcess(sim);
  });
});
