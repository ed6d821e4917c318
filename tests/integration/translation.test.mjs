// Cross-format fidelity, checked at both ends: a recording upstream (speaking
// OpenAI on /v1/chat/completions and Anthropic on /v1/messages) keeps every
// request the gateway sends it, so the translated request itself is asserted,
// and answers with scripted bodies and streams written the awkward ways real
// providers write them (CRLF, comments, ping events, events split at any byte,
// UTF-8 split across writes, interleaved parallel tool calls).
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';

import {
  CLIENT_KEY, SIM_KEY, assertHealthyProcess, httpRequest, httpStream, ms, parseSSE, standardConfig, startGateway,
  startSim, stopAll,
} from './harness.mjs';

const T = { timeout: ms(30_000) };
let sim;
let gw;
let upstream;
let openai;
let anthropic;
const received = []; // {path, headers, body} for every request the recording upstream got

const TRICKY = 'quote " backslash \\ slash / newline \n tab \t emoji 🎉🇫🇷 café 世界 ctrl \u0001 </script> \u2028 end';

// ---------------------------------------------------------------------------
// The recording upstream

function lastUserText(body, anthropicSide) {
  const users = (body.messages ?? []).filter((m) => m.role === 'user');
  const last = users.at(-1);
  if (!last) return '';
  if (typeof last.content === 'string') return last.content;
  return last.content.filter((p) => p.type === 'text').map((p) => p.text).join('');
}

// What to answer, in neutral terms.
function planFor(model, body, anthropicSide) {
  const name = model.replace(/-crlf$/, '');
  switch (name) {
    case 'echo': return { text: lastUserText(body, anthropicSide), usage: { input: 11, output: 3 } };
    case 'usage':
      return anthropicSide
        ? { text: 'ok', usage: { input: 25, cacheRead: 10, cacheWrite: 5, output: 7 } }
        : { text: 'ok', usage: { prompt: 40, cached: 10, completion: 7, reasoning: 2 } };
    case 'two-tools':
      return {
        text: '',
        tools: [
          { id: 'call_a', name: 'search', args: '{"query":"alpha","limit":1}' },
          { id: 'call_b', name: 'lookup', args: '{"word":"beta"}' },
        ],
        usage: { input: 9, output: 20 },
      };
    case 'thinking': return { thinking: 'let me think about this', text: 'visible answer', usage: { input: 5, output: 9 } };
    default: return { text: `unknown scripted model ${model}`, usage: { input: 1, output: 1 } };
  }
}

function codePointPieces(text, size) {
  const points = [...text];
  const out = [];
  for (let i = 0; i < points.length; i += size) out.push(points.slice(i, i + size).join(''));
  return out;
}

function openaiAnswer(plan, model) {
  const message = { role: 'assistant', content: plan.tools ? null : plan.text };
  if (plan.tools) message.tool_calls = plan.tools.map((t) => ({ id: t.id, type: 'function', function: { name: t.name, arguments: t.args } }));
  const u = plan.usage;
  return {
    id: 'chatcmpl-rec', object: 'chat.completion', created: 1700000000, model,
    choices: [{ index: 0, message, finish_reason: plan.tools ? 'tool_calls' : 'stop', logprobs: null }],
    usage: u.prompt !== undefined
      ? { prompt_tokens: u.prompt, completion_tokens: u.completion, total_tokens: u.prompt + u.completion,
          prompt_tokens_details: { cached_tokens: u.cached }, completion_tokens_details: { reasoning_tokens: u.reasoning } }
      : { prompt_tokens: u.input, completion_tokens: u.output, total_tokens: u.input + u.output },
  };
}

function openaiStream(plan, model, includeUsage, crlf) {
  const nl = crlf ? '\r\n' : '\n';
  const base = { id: 'chatcmpl-rec', object: 'chat.completion.chunk', created: 1700000000, model };
  const events = [`: keep-alive comment${nl}${nl}`];
  const chunk = (delta, finish = null, extra = {}) => {
    events.push(`data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta, finish_reason: finish }], ...extra })}${nl}${nl}`);
  };
  chunk({ role: 'assistant', content: '' });
  for (const piece of codePointPieces(plan.text, 3)) chunk({ content: piece });
  if (plan.tools) {
    plan.tools.forEach((t, i) => chunk({ tool_calls: [{ index: i, id: t.id, type: 'function', function: { name: t.name, arguments: '' } }] }));
    // Interleave the two calls' argument fragments.
    const fragments = plan.tools.map((t) => codePointPieces(t.args, 5));
    for (let k = 0; k < Math.max(...fragments.map((f) => f.length)); k++) {
      fragments.forEach((f, i) => { if (f[k]) chunk({ tool_calls: [{ index: i, function: { arguments: f[k] } }] }); });
    }
  }
  chunk({}, plan.tools ? 'tool_calls' : 'stop');
  if (includeUsage) {
    const u = openaiAnswer(plan, model).usage;
    events.push(`data: ${JSON.stringify({ ...base, choices: [], usage: u })}${nl}${nl}`);
  }
  events.push(`data: [DONE]${nl}${nl}`);
  return events.join('');
}

function anthropicUsage(u) {
  return { input_tokens: u.input ?? 0, cache_read_input_tokens: u.cacheRead ?? 0, cache_creation_input_tokens: u.cacheWrite ?? 0, output_tokens: u.output ?? 0 };
}

function anthropicAnswer(plan, model) {
  const content = [];
  if (plan.thinking) content.push({ type: 'thinking', thinking: plan.thinking, signature: 'sig' });
  if (plan.text) content.push({ type: 'text', text: plan.text });
  for (const t of plan.tools ?? []) content.push({ type: 'tool_use', id: t.id.replace('call_', 'toolu_'), name: t.name, input: JSON.parse(t.args) });
  return {
    id: 'msg_rec', type: 'message', role: 'assistant', model, content,
    stop_reason: plan.tools ? 'tool_use' : 'end_turn', stop_sequence: null, usage: anthropicUsage(plan.usage),
  };
}

function anthropicStream(plan, model) {
  const events = [];
  const ev = (type, data) => events.push(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
  const usage = anthropicUsage(plan.usage);
  ev('message_start', { message: { id: 'msg_rec', type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { ...usage, output_tokens: 1 } } });
  ev('ping', {});
  let index = 0;
  if (plan.thinking) {
    ev('content_block_start', { index, content_block: { type: 'thinking', thinking: '', signature: '' } });
    ev('content_block_delta', { index, delta: { type: 'thinking_delta', thinking: plan.thinking } });
    ev('content_block_delta', { index, delta: { type: 'signature_delta', signature: 'sig' } });
    ev('content_block_stop', { index });
    index++;
  }
  if (plan.text) {
    ev('content_block_start', { index, content_block: { type: 'text', text: '' } });
    for (const piece of codePointPieces(plan.text, 3)) ev('content_block_delta', { index, delta: { type: 'text_delta', text: piece } });
    ev('content_block_stop', { index });
    index++;
  }
  for (const t of plan.tools ?? []) {
    ev('content_block_start', { index, content_block: { type: 'tool_use', id: t.id.replace('call_', 'toolu_'), name: t.name, input: {} } });
    for (const piece of codePointPieces(t.args, 5)) ev('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: piece } });
    ev('content_block_stop', { index });
    index++;
  }
  ev('ping', {});
  ev('message_delta', { delta: { stop_reason: plan.tools ? 'tool_use' : 'end_turn', stop_sequence: null }, usage: { output_tokens: usage.output_tokens } });
  ev('message_stop', {});
  return events.join('');
}

// Writes `text` in 7-byte pieces (so events, JSON and UTF-8 sequences are cut
// anywhere), each piece its own TCP write.
async function writeFragmented(res, text) {
  const bytes = Buffer.from(text, 'utf8');
  for (let i = 0; i < bytes.length; i += 7) {
    res.write(bytes.subarray(i, i + 7));
    await new Promise((r) => setImmediate(r));
  }
  res.end();
}

function startRecordingUpstream() {
  const server = http.createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (d) => { raw += d; });
    req.on('end', async () => {
      let body = {};
      try { body = JSON.parse(raw); } catch { /* recorded as is */ }
      received.push({ path: req.url, headers: req.headers, body, raw });
      const anthropicSide = req.url.endsWith('/v1/messages');
      if (!anthropicSide && !req.url.endsWith('/chat/completions')) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end('{"error":{"message":"no route","type":"invalid_request_error"}}');
        return;
      }
      const model = String(body.model ?? '');
      const plan = planFor(model, body, anthropicSide);
      if (body.stream) {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        const text = anthropicSide
          ? anthropicStream(plan, model)
          : openaiStream(plan, model, body.stream_options?.include_usage === true, model.endsWith('-crlf'));
        await writeFragmented(res, text);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(anthropicSide ? anthropicAnswer(plan, model) : openaiAnswer(plan, model)));
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

// The last request the upstream got for `model`.
function lastRequest(model) {
  const found = received.filter((r) => r.body?.model === model).at(-1);
  assert.ok(found, `the upstream received a request for ${model}`);
  return found;
}

before(async () => {
  sim = await startSim();
  upstream = await startRecordingUpstream();
  const port = upstream.address().port;
  gw = await startGateway({
    config: standardConfig(sim.port, {
      providers: `  recoa:
    kind: openai
    base_url: http://127.0.0.1:${port}/v1
    api_key: \${SIM_KEY}
  recant:
    kind: anthropic
    base_url: http://127.0.0.1:${port}
    api_key: \${SIM_KEY}
`,
    }),
  });
  openai = new OpenAI({ apiKey: CLIENT_KEY, baseURL: `${gw.url}/v1`, maxRetries: 0, timeout: ms(20_000) });
  anthropic = new Anthropic({ apiKey: CLIENT_KEY, baseURL: gw.url, maxRetries: 0, timeout: ms(20_000) });
});
after(async () => {
  await stopAll();
  upstream?.close();
});

const SEARCH = { name: 'search', description: 'Search the catalogue', schema: { type: 'object', properties: { query: { type: 'string' }, limit: { type: 'integer' } }, required: ['query'] } };
const LOOKUP = { name: 'lookup', description: 'Look a word up', schema: { type: 'object', properties: { word: { type: 'string' } } } };
const oaTool = (t) => ({ type: 'function', function: { name: t.name, description: t.description, parameters: t.schema } });
const antTool = (t) => ({ name: t.name, description: t.description, input_schema: t.schema });

describe('OpenAI caller -> Anthropic upstream: the request as sent', () => {
  test('model, limit, system, sampling, stop, tools and tool_choice are translated', T, async () => {
    await openai.chat.completions.create({
      model: 'recant/echo',
      max_tokens: 77, temperature: 0.3, top_p: 0.9, stop: ['END'],
      tools: [oaTool(SEARCH), oaTool(LOOKUP)],
      tool_choice: { type: 'function', function: { name: 'lookup' } },
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'Hello' },
      ],
    });
    const { path, headers, body } = lastRequest('echo');
    assert.equal(path, '/v1/messages');
    assert.equal(headers['x-api-key'], SIM_KEY);
    assert.match(headers['anthropic-version'] ?? '', /^\d{4}-\d{2}-\d{2}$/);
    assert.equal(headers.authorization, undefined, 'the caller\'s bearer key is not forwarded');
    assert.equal(body.model, 'echo');
    assert.equal(body.max_tokens, 77);
    assert.equal(body.temperature, 0.3);
    assert.equal(body.top_p, 0.9);
    assert.deepEqual(body.stop_sequences, ['END']);
    const system = typeof body.system === 'string' ? body.system : body.system.map((b) => b.text).join('');
    assert.equal(system, 'You are terse.');
    assert.ok(!body.messages.some((m) => m.role === 'system'), 'no system role inside messages');
    assert.equal(body.messages.length, 1);
    assert.equal(body.messages[0].role, 'user');
    assert.deepEqual(body.tools, [antTool(SEARCH), antTool(LOOKUP)]);
    assert.deepEqual(body.tool_choice, { type: 'tool', name: 'lookup' });
  });

  test('no max_tokens from the caller: the Anthropic upstream still gets one', T, async () => {
    await openai.chat.completions.create({ model: 'recant/echo', messages: [{ role: 'user', content: 'Hello' }] });
    const { body } = lastRequest('echo');
    assert.ok(Number.isInteger(body.max_tokens) && body.max_tokens > 0, `max_tokens required by Anthropic: ${body.max_tokens}`);
  });

  test('max_completion_tokens (what newer OpenAI clients send) becomes max_tokens', T, async () => {
    await openai.chat.completions.create({ model: 'recant/echo', max_completion_tokens: 55, messages: [{ role: 'user', content: 'Hello' }] });
    assert.equal(lastRequest('echo').body.max_tokens, 55);
  });

  test('tool_choice "required" becomes {type: "any"}; an assistant tool call and tool results become tool_use / tool_result', T, async () => {
    await openai.chat.completions.create({
      model: 'recant/echo', tools: [oaTool(SEARCH)], tool_choice: 'required',
      messages: [
        { role: 'user', content: 'Find two things.' },
        {
          role: 'assistant', content: null,
          tool_calls: [
            { id: 'call_1', type: 'function', function: { name: 'search', arguments: '{"query":"a","limit":3}' } },
            { id: 'call_2', type: 'function', function: { name: 'search', arguments: '{"query":"b","limit":3}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: 'result one' },
        { role: 'tool', tool_call_id: 'call_2', content: 'result two' },
      ],
    });
    const { body } = lastRequest('echo');
    assert.deepEqual(body.tool_choice, { type: 'any' });
    assert.deepEqual(body.messages.map((m) => m.role), ['user', 'assistant', 'user'], 'roles alternate; both results in one user turn');
    const uses = body.messages[1].content.filter((b) => b.type === 'tool_use');
    assert.deepEqual(uses.map((u) => [u.id, u.name, u.input]), [['call_1', 'search', { query: 'a', limit: 3 }], ['call_2', 'search', { query: 'b', limit: 3 }]]);
    const results = body.messages[2].content.filter((b) => b.type === 'tool_result');
    assert.deepEqual(results.map((r) => r.tool_use_id), ['call_1', 'call_2']);
    const resultText = (r) => (typeof r.content === 'string' ? r.content : r.content.map((c) => c.text).join(''));
    assert.deepEqual(results.map(resultText), ['result one', 'result two']);
  });

  test('images: a data URL becomes a base64 source, an https URL a url source', T, async () => {
    const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
    await openai.chat.completions.create({
      model: 'recant/echo',
      messages: [{
        role: 'user',
        content: [
          { type: 'text', text: 'What are these?' },
          { type: 'image_url', image_url: { url: `data:image/png;base64,${png}` } },
          { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
        ],
      }],
    });
    const blocks = lastRequest('echo').body.messages[0].content;
    const images = blocks.filter((b) => b.type === 'image');
    assert.equal(images.length, 2);
    assert.deepEqual(images[0].source, { type: 'base64', media_type: 'image/png', data: png });
    assert.deepEqual(images[1].source, { type: 'url', url: 'https://example.com/cat.jpg' });
  });
});

describe('Anthropic caller -> OpenAI upstream: the request as sent', () => {
  test('system, limit, stop, tools and tool_choice are translated; streams ask for usage', T, async () => {
    await anthropic.messages.stream({
      model: 'recoa/echo', max_tokens: 77, temperature: 0.5, stop_sequences: ['END'],
      system: [{ type: 'text', text: 'You are ' }, { type: 'text', text: 'terse.' }],
      tools: [antTool(SEARCH), antTool(LOOKUP)], tool_choice: { type: 'tool', name: 'search' },
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Hello' }] }],
    }).finalMessage();
    const { path, headers, body } = lastRequest('echo');
    assert.equal(path, '/v1/chat/completions');
    assert.equal(headers.authorization, `Bearer ${SIM_KEY}`);
    assert.equal(headers['x-api-key'], undefined, 'the caller\'s x-api-key is not forwarded');
    assert.equal(body.max_completion_tokens ?? body.max_tokens, 77);
    assert.equal(body.temperature, 0.5);
    assert.deepEqual(typeof body.stop === 'string' ? [body.stop] : body.stop, ['END']);
    assert.equal(body.messages[0].role, 'system');
    const systemText = typeof body.messages[0].content === 'string' ? body.messages[0].content : body.messages[0].content.map((p) => p.text).join('');
    assert.equal(systemText.replace(/\n/g, ''), 'You are terse.');
    assert.equal(body.messages[1].role, 'user');
    assert.deepEqual(body.tools, [oaTool(SEARCH), oaTool(LOOKUP)]);
    assert.deepEqual(body.tool_choice, { type: 'function', function: { name: 'search' } });
    assert.equal(body.stream, true);
    assert.equal(body.stream_options?.include_usage, true, 'usage requested so the Anthropic caller gets token counts');
  });

  test('tool_choice any -> "required"; tool_use / tool_result -> tool_calls / tool messages', T, async () => {
    await anthropic.messages.create({
      model: 'recoa/echo', max_tokens: 50, tools: [antTool(SEARCH)], tool_choice: { type: 'any' },
      messages: [
        { role: 'user', content: 'Find two things.' },
        { role: 'assistant', content: [
          { type: 'text', text: 'Searching.' },
          { type: 'tool_use', id: 'toolu_1', name: 'search', input: { query: 'a', limit: 3 } },
          { type: 'tool_use', id: 'toolu_2', name: 'search', input: { query: 'b', limit: 3 } },
        ] },
        { role: 'user', content: [
          { type: 'tool_result', tool_use_id: 'toolu_1', content: 'result one' },
          { type: 'tool_result', tool_use_id: 'toolu_2', content: [{ type: 'text', text: 'result two' }] },
          { type: 'text', text: 'Now summarise.' },
        ] },
      ],
    });
    const { body } = lastRequest('echo');
    assert.equal(body.tool_choice, 'required');
    assert.deepEqual(body.messages.map((m) => m.role), ['user', 'assistant', 'tool', 'tool', 'user']);
    const calls = body.messages[1].tool_calls;
    assert.deepEqual(calls.map((c) => [c.id, c.type, c.function.name, JSON.parse(c.function.arguments)]),
      [['toolu_1', 'function', 'search', { query: 'a', limit: 3 }], ['toolu_2', 'function', 'search', { query: 'b', limit: 3 }]]);
    const text = (c) => (typeof c === 'string' ? c : c.map((p) => p.text).join(''));
    assert.equal(text(body.messages[1].content), 'Searching.');
    assert.deepEqual([body.messages[2].tool_call_id, text(body.messages[2].content)], ['toolu_1', 'result one']);
    assert.deepEqual([body.messages[3].tool_call_id, text(body.messages[3].content)], ['toolu_2', 'result two']);
    assert.equal(text(body.messages[4].content), 'Now summarise.');
  });

  test('a base64 image becomes a data URL image part', T, async () => {
    const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
    await anthropic.messages.create({
      model: 'recoa/echo', max_tokens: 50,
      messages: [{ role: 'user', content: [
        { type: 'image', source: { type: 'base64', media_type: 'image/png', data: png } },
        { type: 'text', text: 'What is this?' },
      ] }],
    });
    const parts = lastRequest('echo').body.messages[0].content;
    const image = parts.find((p) => p.type === 'image_url');
    assert.ok(image, `an image_url part: ${JSON.stringify(parts)}`);
    assert.equal(image.image_url.url, `data:image/png;base64,${png}`);
  });
});

describe('same format: passthrough', () => {
  test('OpenAI -> OpenAI: unknown fields survive, only the model changes', T, async () => {
    const res = await httpRequest(gw.url, '/v1/chat/completions', {
      body: { model: 'recoa/echo', messages: [{ role: 'user', content: 'Hello' }], seed: 42, logit_bias: { 50256: -100 }, x_custom_field: { nested: [1, 2] }, user: 'u-1' },
    });
    assert.equal(res.status, 200, res.text);
    const { body } = lastRequest('echo');
    assert.equal(body.seed, 42);
    assert.deepEqual(body.logit_bias, { 50256: -100 });
    assert.deepEqual(body.x_custom_field, { nested: [1, 2] });
    assert.equal(body.user, 'u-1');
  });

  test('Anthropic -> Anthropic: unknown fields and the anthropic-beta header are forwarded', T, async () => {
    const res = await httpRequest(gw.url, '/v1/messages', {
      headers: { 'anthropic-version': '2023-06-01', 'anthropic-beta': 'prompt-caching-2024-07-31' },
      body: { model: 'recant/echo', max_tokens: 20, metadata: { user_id: 'u-2' }, x_custom_field: true, messages: [{ role: 'user', content: 'Hello' }] },
    });
    assert.equal(res.status, 200, res.text);
    const { headers, body } = lastRequest('echo');
    assert.equal(headers['anthropic-beta'], 'prompt-caching-2024-07-31');
    assert.deepEqual(body.metadata, { user_id: 'u-2' });
    assert.equal(body.x_custom_field, true);
  });
});

describe('answers: text fidelity through every path', () => {
  const paths = [
    ['OpenAI caller, OpenAI upstream', 'openai', 'recoa/echo'],
    ['OpenAI caller, OpenAI upstream with CRLF and comments', 'openai', 'recoa/echo-crlf'],
    ['OpenAI caller, Anthropic upstream', 'openai', 'recant/echo'],
    ['Anthropic caller, Anthropic upstream', 'anthropic', 'recant/echo'],
    ['Anthropic caller, OpenAI upstream', 'anthropic', 'recoa/echo'],
    ['Anthropic caller, OpenAI upstream with CRLF and comments', 'anthropic', 'recoa/echo-crlf'],
  ];
  for (const [name, caller, model] of paths) {
    test(`${name}: tricky text is returned exactly, streamed (split at any byte) and not`, T, async () => {
      if (caller === 'openai') {
        const whole = await openai.chat.completions.create({ model, messages: [{ role: 'user', content: TRICKY }] });
        assert.equal(whole.choices[0].message.content, TRICKY);
        const stream = await openai.chat.completions.create({ model, stream: true, messages: [{ role: 'user', content: TRICKY }] });
        let text = '';
        const finishes = [];
        for await (const chunk of stream) {
          text += chunk.choices[0]?.delta?.content ?? '';
          if (chunk.choices[0]?.finish_reason) finishes.push(chunk.choices[0].finish_reason);
        }
        assert.equal(text, TRICKY);
        assert.deepEqual(finishes, ['stop']);
      } else {
        const whole = await anthropic.messages.create({ model, max_tokens: 100, messages: [{ role: 'user', content: TRICKY }] });
        assert.equal(whole.content.map((b) => b.text).join(''), TRICKY);
        const message = await anthropic.messages.stream({ model, max_tokens: 100, messages: [{ role: 'user', content: TRICKY }] }).finalMessage();
        assert.equal(message.content.map((b) => b.text).join(''), TRICKY);
        assert.equal(message.stop_reason, 'end_turn');
      }
    });
  }

  test('raw bytes of a translated stream are valid SSE with JSON on every data line', T, async () => {
    const res = await httpStream(gw.url, '/v1/chat/completions', {
      body: { model: 'recant/echo', stream: true, messages: [{ role: 'user', content: TRICKY }] },
    });
    assert.equal(res.status, 200);
    const events = parseSSE(res.text);
    assert.equal(events.at(-1).data, '[DONE]');
    for (const e of events.slice(0, -1)) assert.ok(e.json, `JSON data line: ${e.data}`);
    const ids = new Set(events.slice(0, -1).map((e) => e.json.id));
    assert.equal(ids.size, 1, 'one id across all chunks');
  });
});

describe('answers: usage, tools and extra blocks across formats', () => {
  test('Anthropic upstream usage (with cache reads and writes) -> OpenAI prompt/completion tokens', T, async () => {
    const whole = await openai.chat.completions.create({ model: 'recant/usage', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(whole.usage.prompt_tokens, 25 + 10 + 5, 'prompt tokens include cache reads and writes');
    assert.equal(whole.usage.completion_tokens, 7);
    assert.equal(whole.usage.total_tokens, 47);
    assert.equal(whole.usage.prompt_tokens_details?.cached_tokens, 10);

    const stream = await openai.chat.completions.create({
      model: 'recant/usage', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'x' }],
    });
    let usage;
    for await (const chunk of stream) if (chunk.usage) usage = chunk.usage;
    assert.equal(usage?.prompt_tokens, 40);
    assert.equal(usage?.completion_tokens, 7);
  });

  test('OpenAI upstream usage (with cached tokens) -> Anthropic input/cache_read/output tokens', T, async () => {
    const whole = await anthropic.messages.create({ model: 'recoa/usage', max_tokens: 50, messages: [{ role: 'user', content: 'x' }] });
    assert.equal(whole.usage.input_tokens, 30, 'uncached input = prompt - cached');
    assert.equal(whole.usage.cache_read_input_tokens, 10);
    assert.equal(whole.usage.output_tokens, 7);

    const streamed = await anthropic.messages.stream({ model: 'recoa/usage', max_tokens: 50, messages: [{ role: 'user', content: 'x' }] }).finalMessage();
    assert.equal(streamed.usage.output_tokens, 7);
    assert.equal(streamed.usage.input_tokens + (streamed.usage.cache_read_input_tokens ?? 0), 40,
      `input tokens reach the Anthropic caller of a stream: ${JSON.stringify(streamed.usage)}`);
  });

  test('simulator usage agrees across formats (cached and reasoning tokens)', T, async () => {
    const messages = [{ role: 'user', content: 'The same prompt for both callers, long enough to matter.' }];
    const viaOpenAI = await openai.chat.completions.create({ model: 'cached-test', messages });
    const viaAnthropic = await anthropic.messages.create({ model: 'cached-test', max_tokens: 100, messages });
    assert.ok(viaOpenAI.usage.prompt_tokens_details?.cached_tokens > 0, 'the simulator reported cached tokens');
    assert.equal(viaAnthropic.usage.input_tokens + viaAnthropic.usage.cache_read_input_tokens, viaOpenAI.usage.prompt_tokens);
    assert.equal(viaAnthropic.usage.cache_read_input_tokens, viaOpenAI.usage.prompt_tokens_details.cached_tokens);
    assert.equal(viaAnthropic.usage.output_tokens, viaOpenAI.usage.completion_tokens, 'reasoning tokens are counted as output both ways');
  });

  test('two parallel tool calls from an OpenAI upstream -> two tool_use blocks (streamed, interleaved)', T, async () => {
    const tools = [antTool(SEARCH), antTool(LOOKUP)];
    const whole = await anthropic.messages.create({ model: 'recoa/two-tools', max_tokens: 50, tools, messages: [{ role: 'user', content: 'x' }] });
    const uses = whole.content.filter((b) => b.type === 'tool_use');
    assert.deepEqual(uses.map((u) => [u.name, u.input]), [['search', { query: 'alpha', limit: 1 }], ['lookup', { word: 'beta' }]]);
    assert.equal(whole.stop_reason, 'tool_use');

    const streamed = await anthropic.messages.stream({ model: 'recoa/two-tools', max_tokens: 50, tools, messages: [{ role: 'user', content: 'x' }] }).finalMessage();
    const streamedUses = streamed.content.filter((b) => b.type === 'tool_use');
    assert.deepEqual(streamedUses.map((u) => [u.name, u.input]), [['search', { query: 'alpha', limit: 1 }], ['lookup', { word: 'beta' }]]);
    assert.equal(streamed.stop_reason, 'tool_use');
  });

  test('two tool_use blocks from an Anthropic upstream -> two OpenAI tool_calls (streamed and not)', T, async () => {
    const tools = [oaTool(SEARCH), oaTool(LOOKUP)];
    const whole = await openai.chat.completions.create({ model: 'recant/two-tools', tools, messages: [{ role: 'user', content: 'x' }] });
    const calls = whole.choices[0].message.tool_calls;
    assert.deepEqual(calls.map((c) => [c.function.name, JSON.parse(c.function.arguments)]), [['search', { query: 'alpha', limit: 1 }], ['lookup', { word: 'beta' }]]);
    assert.equal(whole.choices[0].finish_reason, 'tool_calls');

    const stream = await openai.chat.completions.create({ model: 'recant/two-tools', tools, stream: true, messages: [{ role: 'user', content: 'x' }] });
    const byIndex = new Map();
    for await (const chunk of stream) {
      for (const call of chunk.choices[0]?.delta?.tool_calls ?? []) {
        const entry = byIndex.get(call.index) ?? { id: '', name: '', args: '' };
        entry.id += call.id ?? '';
        entry.name += call.function?.name ?? '';
        entry.args += call.function?.arguments ?? '';
        byIndex.set(call.index, entry);
      }
    }
    assert.deepEqual([...byIndex.keys()], [0, 1]);
    assert.deepEqual([...byIndex.values()].map((c) => [c.name, JSON.parse(c.args)]), [['search', { query: 'alpha', limit: 1 }], ['lookup', { word: 'beta' }]]);
    assert.ok([...byIndex.values()].every((c) => c.id.length > 0), 'each call has an id');
  });

  test('an Anthropic thinking block does not leak into OpenAI content (streamed and not)', T, async () => {
    const whole = await openai.chat.completions.create({ model: 'recant/thinking', messages: [{ role: 'user', content: 'x' }] });
    assert.equal(whole.choices[0].message.content, 'visible answer');
    const stream = await openai.chat.completions.create({ model: 'recant/thinking', stream: true, messages: [{ role: 'user', content: 'x' }] });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    assert.equal(text, 'visible answer');
  });

  test('the gateway survived all of the above', T, async () => {
    assertHealthyProcess(gw);
  });
});
