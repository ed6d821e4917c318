// A `local` deployment (the edge engine, in process) served through the
// gateway's OpenAI and Anthropic endpoints, streamed and not, and embeddings;
// on the generated tiny model (random weights, Llama-3 tokenizer) next to the
// binary under test (<build>/models/tiny.gguf).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';

import { ARBITRA_BIN, httpRequest, httpStream, ms, parseSSE, startGateway, stopAll, tempFile } from './harness.mjs';

const T = { timeout: ms(60_000) };
const MODEL = path.join(path.dirname(ARBITRA_BIN), 'models', 'tiny.gguf');
let gw;

const chat = (extra = {}) => ({
  model: 'tiny',
  messages: [{ role: 'user', content: 'Tell me about the sea' }],
  temperature: 0,
  max_tokens: 12,
  ...extra,
});

describe('local deployment (edge engine)', () => {
  before(async () => {
    assert.ok(fs.existsSync(MODEL), `test model missing: ${MODEL}`);
    gw = await startGateway({
      config: `server: { host: 127.0.0.1, port: 0, threads: 2 }
providers:
  edge: { kind: local, model: ${MODEL}, context: 512, parallel: 2, threads: 1, cost_per_hour: 1.00 }
models:
  tiny:
    - provider: edge
      model: tiny-f16
`,
    });
  });
  after(stopAll);

  test('OpenAI, non-streamed: deterministic greedy answer with exact usage', T, async () => {
    const a = await httpRequest(gw.url, '/v1/chat/completions', { body: chat() });
    assert.equal(a.status, 200, a.text);
    assert.equal(a.headers.get('x-arbitra-deployment'), 'edge/tiny-f16');
    const choice = a.json.choices[0];
    assert.ok(choice.message.content.length > 0);
    assert.equal(choice.finish_reason, 'length');
    assert.equal(a.json.usage.completion_tokens, 12);
    assert.ok(a.json.usage.prompt_tokens > 5);
    const b = await httpRequest(gw.url, '/v1/chat/completions', { body: chat() });
    assert.equal(b.json.choices[0].message.content, choice.message.content);
    // The second run reused a slot's cached prompt (all but its last token).
    assert.equal(b.json.usage.prompt_tokens_details.cached_tokens, b.json.usage.prompt_tokens - 1);
  });

  test('OpenAI, streamed: the deltas add up to the non-streamed answer', T, async () => {
    const whole = await httpRequest(gw.url, '/v1/chat/completions', { body: chat() });
    const s = await httpStream(gw.url, '/v1/chat/completions', {
      body: chat({ stream: true, stream_options: { include_usage: true } }),
    });
    assert.equal(s.status, 200);
    const events = parseSSE(s.text);
    assert.equal(events.at(-1).data, '[DONE]');
    const text = events.filter((e) => e.json?.choices?.[0]?.delta?.content)
      .map((e) => e.json.choices[0].delta.content).join('');
    assert.equal(text, whole.json.choices[0].message.content);
    const usage = events.find((e) => e.json?.usage)?.json.usage;
    assert.equal(usage.completion_tokens, 12);
    assert.ok(events.filter((e) => e.json?.choices?.[0]?.delta?.content).length >= 3, 'streamed in pieces');
  });

  test('Anthropic, streamed and not: same tokens, Anthropic shapes', T, async () => {
    const openai = await httpRequest(gw.url, '/v1/chat/completions', { body: chat() });
    const body = { model: 'tiny', max_tokens: 12, temperature: 0,
      messages: [{ role: 'user', content: 'Tell me about the sea' }] };
    const m = await httpRequest(gw.url, '/v1/messages', { body, headers: { 'anthropic-version': '2023-06-01' } });
    assert.equal(m.status, 200, m.text);
    assert.equal(m.json.type, 'message');
    assert.equal(m.json.content[0].text, openai.json.choices[0].message.content);
    assert.equal(m.json.stop_reason, 'max_tokens');
    assert.equal(m.json.usage.output_tokens, 12);
    const s = await httpStream(gw.url, '/v1/messages', { body: { ...body, stream: true } });
    const events = parseSSE(s.text);
    assert.equal(events[0].event, 'message_start');
    assert.equal(events.at(-1).event, 'message_stop');
    const text = events.filter((e) => e.event === 'content_block_delta').map((e) => e.json.delta.text).join('');
    assert.equal(text, m.json.content[0].text);
  });

  test('stop sequences and seeded sampling through the API', T, async () => {
    const whole = (await httpRequest(gw.url, '/v1/chat/completions', { body: chat({ max_tokens: 24 }) })).json;
    const content = whole.choices[0].message.content;
    const stop = content.slice(Math.floor(content.length / 2), Math.floor(content.length / 2) + 3);
    const cut = (await httpRequest(gw.url, '/v1/chat/completions', { body: chat({ max_tokens: 24, stop: [stop] }) })).json;
    assert.equal(cut.choices[0].message.content, content.slice(0, content.indexOf(stop)));
    assert.equal(cut.choices[0].finish_reason, 'stop');
    const sampled = (seed) => httpRequest(gw.url, '/v1/chat/completions', { body: chat({ temperature: 1.2, seed }) });
    const [x, y] = [await sampled(11), await sampled(11)];
    assert.equal(x.json.choices[0].message.content, y.json.choices[0].message.content);
  });

  test('the official openai client, and embeddings', T, async () => {
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused' });
    const done = await client.chat.completions.create(chat());
    assert.equal(done.usage.completion_tokens, 12);
    const emb = await client.embeddings.create({ model: 'tiny', input: ['the cat', 'the dog', 'the cat'] });
    assert.equal(emb.data.length, 3);
    assert.equal(emb.data[0].embedding.length, 32);
    assert.deepEqual(emb.data[0].embedding, emb.data[2].embedding);
    assert.notDeepEqual(emb.data[0].embedding, emb.data[1].embedding);
    assert.ok(emb.usage.prompt_tokens > 3);
  });

  test('a client that leaves frees its slot', T, async () => {
    // Two slots; two long streams abandoned after their first bytes.
    for (let i = 0; i < 2; i++) {
      const controller = new AbortController();
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, signal: controller.signal,
        body: JSON.stringify(chat({ stream: true, max_tokens: 400, messages: [{ role: 'user', content: `long ${i}` }] })),
      });
      const reader = res.body.getReader();
      await reader.read();
      controller.abort();
    }
    // Both slots must be free again: a request is served at once.
    const r = await httpRequest(gw.url, '/v1/chat/completions', { body: chat({ max_tokens: 4 }), timeoutMs: ms(10_000) });
    assert.equal(r.status, 200);
    assert.equal(r.json.usage.completion_tokens, 4);
  });

  test('tools and images are refused with a 400', T, async () => {
    const r = await httpRequest(gw.url, '/v1/chat/completions', {
      body: chat({ tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }] }),
    });
    assert.equal(r.status, 400);
    assert.match(r.json.error.message, /tools are not supported by local models/);
  });
});

describe('local deployment with a machine cost model and a local cache embedder', () => {
  let g;
  before(async () => {
    g = await startGateway({
      config: `server: { host: 127.0.0.1, port: 0, threads: 2 }
providers:
  edge: { kind: local, model: ${MODEL}, context: 512, parallel: 1, threads: 1,
          capex: 1500, lifetime_hours: 26280, watts: 200, price_per_kwh: 0.15, hosting_per_month: 20 }
models:
  tiny: [{ provider: edge, model: tiny-f16 }]
cache:
  max_bytes: 16777216
  embedder: { kind: local, model: ${MODEL} }
  default: { mode: semantic, verify_fraction: 0 }
`,
    });
  });
  after(stopAll);

  test('a near-identical question is answered from the semantic cache; the miss is costed', T, async () => {
    const ask = (q) => httpRequest(g.url, '/v1/chat/completions', {
      body: { model: 'tiny', messages: [{ role: 'user', content: q }], temperature: 0, max_tokens: 8 } });
    const first = await ask('How do I reset my password?');
    assert.equal(first.status, 200, first.text);
    assert.equal(first.headers.get('x-arbitra-cache'), 'miss');
    // capex / lifetime + power + hosting over the measured throughput: a
    // positive exact cost on the request's log line.
    let logged = null;
    for (let i = 0; i < 50 && !logged; i++) {
      logged = (g.stderr + g.stdout).match(/ cost_pico=(\d+)/);
      if (!logged) await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(logged && Number(logged[1]) > 0, 'cost_pico on the log line');
    const near = await ask('How do I reset my password');
    assert.match(near.headers.get('x-arbitra-cache'), /^hit-semantic; sim=0\.9\d{2}; threshold=0\.900$/);
    assert.equal(near.json.choices[0].message.content, first.json.choices[0].message.content);
    const other = await ask('Quarterly revenue of the steel mill');
    assert.equal(other.headers.get('x-arbitra-cache'), 'miss');
  });
});

describe('local deployment with speculative decoding, into the ledger', () => {
  test('each request\'s drafted, accepted and decode steps reach its ledger row', T, async () => {
    const ledgerFile = tempFile('local-spec.db', null);
    const g = await startGateway({
      config: `server: { host: 127.0.0.1, port: 0, threads: 2 }
providers:
  edge: { kind: local, model: ${MODEL}, context: 512, parallel: 1, threads: 1, draft: ${MODEL} }
models:
  tiny: [{ provider: edge, model: tiny-f16 }]
ledger: { path: "${ledgerFile}", commit_interval_ms: 100 }
`,
    });
    const ask = (content, temperature) => httpRequest(g.url, '/v1/chat/completions', {
      body: { model: 'tiny', messages: [{ role: 'user', content }], temperature, max_tokens: 32 } });
    // The model drafts for itself: a draft that always agrees.
    const greedy = await ask('one two three four one two three four one two three four', 0);
    assert.equal(greedy.status, 200, greedy.text);
    const sampled = await ask('one two three four one two three four', 0.8);  // sampled: never speculative
    assert.equal(sampled.status, 200, sampled.text);
    await g.stop();
    const rows = JSON.parse(execFileSync('sqlite3', ['-json', ledgerFile,
      'SELECT output_tokens, drafted_tokens, accepted_tokens, decode_steps FROM records ORDER BY seq'],
    { encoding: 'utf8' }));
    assert.equal(rows.length, 2);
    const [spec, plain] = rows;
    assert.ok(spec.accepted_tokens > 0 && spec.accepted_tokens <= spec.drafted_tokens, JSON.stringify(spec));
    // Every output token came from a target step or was an accepted draft:
    // fewer steps than tokens.
    assert.ok(spec.decode_steps < spec.output_tokens, JSON.stringify(spec));
    assert.ok(spec.decode_steps + spec.accepted_tokens >= spec.output_tokens, JSON.stringify(spec));
    assert.equal(plain.drafted_tokens, 0);
    assert.equal(plain.accepted_tokens, 0);
    assert.ok(plain.decode_steps >= plain.output_tokens, JSON.stringify(plain));
  });
});

describe('local deployment errors', () => {
  after(stopAll);
  test('a corrupt model file stops start-up with its name', T, async () => {
    const bad = path.join(path.dirname(MODEL), 'corrupt-it.gguf');
    fs.writeFileSync(bad, 'GGUF garbage');
    try {
      await assert.rejects(startGateway({
        config: `providers:\n  edge: { kind: local, model: ${bad} }\nmodels:\n  tiny: { provider: edge, model: x }\n`,
      }), /corrupt-it\.gguf/);
    } finally {
      fs.rmSync(bad, { force: true });
    }
  });
});
