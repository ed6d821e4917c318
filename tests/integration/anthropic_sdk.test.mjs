// Compatibility with the official `@anthropic-ai/sdk` (pinned in package.json):
// /v1/messages must look like the Anthropic API to it, for Anthropic-side
// models and, translated, for models served by an OpenAI-kind deployment.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';

import {
  CLIENT_KEY, assertHealthyProcess, ms, standardConfig, startGateway, startSim, stopAll, words,
} from './harness.mjs';

let sim;
let gw;
let client;

before(async () => {
  sim = await startSim();
  gw = await startGateway({ config: standardConfig(sim.port) });
  client = new Anthropic({ apiKey: CLIENT_KEY, baseURL: gw.url, maxRetries: 0, timeout: ms(20_000) });
});
after(stopAll);

const T = { timeout: ms(30_000) };
const LONG_SYSTEM = 'You answer in exactly the style of a terse ship captain. '.repeat(10);
const SEARCH_TOOL = {
  name: 'search',
  description: 'Search the catalogue',
  input_schema: {
    type: 'object',
    properties: { query: { type: 'string' }, limit: { type: 'integer' } },
    required: ['query'],
  },
};
const LOOKUP_TOOL = {
  name: 'lookup',
  description: 'Look a word up',
  input_schema: { type: 'object', properties: { word: { type: 'string' } } },
};
const EXPECTED_STREAM_SHAPE = ['message_start', 'content_block_start', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop'];

function textOf(message) {
  return message.content.filter((b) => b.type === 'text').map((b) => b.text).join('');
}

function assertSearchInput(input) {
  assert.ok(input && typeof input === 'object' && !Array.isArray(input), `tool input is an object: ${JSON.stringify(input)}`);
  assert.equal(typeof input.query, 'string');
  assert.ok(input.query.length > 0);
  assert.equal(input.limit, 3);
}

// Event types in order, with consecutive repeats folded
// (content_block_delta x20 -> one), so the shape can be compared.
function shape(types) {
  return types.filter((t, i) => t !== types[i - 1]);
}

async function streamMessage(params) {
  const stream = client.messages.stream(params);
  const types = [];
  const textTimes = [];
  let streamedText = '';
  let inputJsonPieces = 0;
  const started = performance.now();
  stream.on('streamEvent', (event) => types.push(event.type));
  stream.on('text', (delta) => {
    streamedText += delta;
    textTimes.push(performance.now() - started);
  });
  stream.on('inputJson', () => { inputJsonPieces++; });
  const message = await stream.finalMessage();
  return { message, types, streamedText, textTimes, inputJsonPieces };
}

function assertEventSequence(types) {
  assert.equal(types[0], 'message_start', `first event: ${types}`);
  assert.equal(types.at(-1), 'message_stop', `last event: ${types}`);
  assert.equal(types.filter((t) => t === 'message_start').length, 1);
  assert.equal(types.filter((t) => t === 'message_stop').length, 1);
  assert.equal(types.filter((t) => t === 'message_delta').length, 1);
  assert.equal(types.filter((t) => t === 'content_block_start').length, types.filter((t) => t === 'content_block_stop').length,
    'every content block is closed');
}

describe('Anthropic SDK, Anthropic-side model', () => {
  test('messages.create with a system prompt', T, async () => {
    const { data, response } = await client.messages
      .create({
        model: 'claude-test', max_tokens: 256, system: 'You are terse.',
        messages: [{ role: 'user', content: 'Say something.' }],
      })
      .withResponse();
    assert.equal(data.type, 'message');
    assert.equal(data.role, 'assistant');
    assert.match(data.id, /\S/);
    assert.equal(data.content.length, 1);
    assert.equal(data.content[0].type, 'text');
    assert.equal(words(data.content[0].text).length, 20);
    assert.equal(data.stop_reason, 'end_turn');
    assert.ok(data.usage.input_tokens > 0);
    assert.equal(data.usage.output_tokens, 20);
    assert.equal(response.headers.get('x-arbitra-deployment'), 'simant/slow');
    assert.equal(response.headers.get('x-arbitra-provider'), 'simant');
    assert.match(response.headers.get('x-arbitra-request-id') ?? '', /\S{6,}/);
  });

  test('the system prompt reaches the upstream (billed as input tokens)', T, async () => {
    const base = { model: 'claude-quick', max_tokens: 256, messages: [{ role: 'user', content: 'Hello there.' }] };
    const bare = await client.messages.create(base);
    const withSystem = await client.messages.create({ ...base, system: LONG_SYSTEM });
    assert.ok(withSystem.usage.input_tokens >= bare.usage.input_tokens + 100,
      `system prompt counted: ${bare.usage.input_tokens} -> ${withSystem.usage.input_tokens}`);
  });

  test('max_tokens below the model output stops with "max_tokens"', T, async () => {
    const data = await client.messages.create({
      model: 'claude-test', max_tokens: 3, messages: [{ role: 'user', content: 'Be long.' }],
    });
    assert.equal(data.stop_reason, 'max_tokens');
    assert.equal(words(textOf(data)).length, 3);
  });

  test('messages.stream: event sequence message_start ... message_stop and finalMessage()', T, async () => {
    const { message, types, streamedText, textTimes } = await streamMessage({
      model: 'claude-test', max_tokens: 256, system: 'Stream.', messages: [{ role: 'user', content: 'Stream please.' }],
    });
    assertEventSequence(types);
    assert.deepEqual(shape(types), EXPECTED_STREAM_SHAPE);
    assert.equal(message.role, 'assistant');
    assert.equal(words(textOf(message)).length, 20);
    assert.equal(streamedText, textOf(message));
    assert.equal(message.stop_reason, 'end_turn');
    assert.ok(message.usage.input_tokens > 0, 'input tokens from message_start');
    assert.equal(message.usage.output_tokens, 20, 'output tokens from message_delta');
    const spread = textTimes.at(-1) - textTimes[0];
    assert.ok(spread > 150, `text arrived incrementally (first-to-last ${spread.toFixed(0)} ms)`);
  });

  test('tool_use block with an input object (non-streamed, named tool_choice)', T, async () => {
    const data = await client.messages.create({
      model: 'claude-quick', max_tokens: 256, tools: [LOOKUP_TOOL, SEARCH_TOOL],
      tool_choice: { type: 'tool', name: 'search' },
      messages: [{ role: 'user', content: 'Find me a book.' }],
    });
    assert.equal(data.stop_reason, 'tool_use');
    const blocks = data.content.filter((b) => b.type === 'tool_use');
    assert.equal(blocks.length, 1);
    assert.equal(blocks[0].name, 'search');
    assert.match(blocks[0].id, /\S/);
    assertSearchInput(blocks[0].input);
  });

  test('tool_use streamed: input_json deltas assemble to the input object', T, async () => {
    const { message, types, inputJsonPieces } = await streamMessage({
      model: 'claude-quick', max_tokens: 256, tools: [SEARCH_TOOL],
      messages: [{ role: 'user', content: 'Find me a book.' }],
    });
    assertEventSequence(types);
    assert.equal(message.stop_reason, 'tool_use');
    const blocks = message.content.filter((b) => b.type === 'tool_use');
    assert.equal(blocks.length, 1);
    assert.equal(blocks[0].name, 'search');
    assertSearchInput(blocks[0].input);
    assert.ok(inputJsonPieces > 1, `input streamed in several input_json_delta pieces (${inputJsonPieces})`);
  });

  test('a tool_result turn gets a text answer', T, async () => {
    const data = await client.messages.create({
      model: 'claude-quick', max_tokens: 256, tools: [SEARCH_TOOL],
      messages: [
        { role: 'user', content: 'Find me a book.' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'search', input: { query: 'book', limit: 3 } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: '["Dune"]' }] },
      ],
    });
    assert.equal(data.stop_reason, 'end_turn');
    assert.equal(words(textOf(data)).length, 12);
    assert.equal(data.content.filter((b) => b.type === 'tool_use').length, 0);
  });

  test('models.list returns the Anthropic shape', T, async () => {
    const ids = [];
    for await (const model of client.models.list()) {
      assert.equal(model.type, 'model');
      assert.equal(typeof model.display_name, 'string');
      ids.push(model.id);
    }
    for (const name of ['gpt-test', 'claude-test']) assert.ok(ids.includes(name), `${name} in ${ids}`);
  });

  test('unknown model: NotFoundError 404 with an Anthropic error body', T, async () => {
    await assert.rejects(
      client.messages.create({ model: 'no-such-model', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }),
      (err) => {
        assert.ok(err instanceof Anthropic.NotFoundError, `NotFoundError, got ${err?.constructor?.name}: ${err}`);
        assert.equal(err.status, 404);
        assert.equal(err.error?.type, 'error', `Anthropic error body: ${JSON.stringify(err.error)}`);
        assert.equal(err.error?.error?.type, 'not_found_error');
        assert.match(err.error?.error?.message ?? '', /claude-test/, 'known models listed');
        return true;
      },
    );
  });

  test('upstream 429 surfaces as RateLimitError with Retry-After', T, async () => {
    await assert.rejects(
      client.messages.create({ model: 'claude-limited', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }),
      (err) => {
        assert.ok(err instanceof Anthropic.RateLimitError, `RateLimitError, got ${err?.constructor?.name}: ${err}`);
        assert.equal(err.status, 429);
        assert.equal(err.headers.get('retry-after'), '7');
        assert.equal(err.error?.error?.type, 'rate_limit_error');
        return true;
      },
    );
  });

  test('upstream 500 surfaces as a 502 with an Anthropic api_error body', T, async () => {
    await assert.rejects(
      client.messages.create({ model: 'claude-flaky', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }),
      (err) => {
        assert.ok(err instanceof Anthropic.APIError);
        assert.equal(err.status, 502);
        assert.equal(err.error?.type, 'error');
        assert.equal(typeof err.error?.error?.type, 'string');
        return true;
      },
    );
  });

  test('mid-stream upstream disconnect: the SDK stream fails with an error event, no hang', T, async () => {
    const stream = client.messages.stream({
      model: 'claude-dropper', max_tokens: 256, messages: [{ role: 'user', content: 'Talk.' }],
    });
    let text = '';
    stream.on('text', (d) => { text += d; });
    await assert.rejects(stream.finalMessage(), (err) => {
      assert.ok(err instanceof Anthropic.APIError, `APIError from the error event, got ${err?.constructor?.name}: ${err}`);
      return true;
    });
    assert.ok(words(text).length > 0 && words(text).length < 40, `partial text first: ${words(text).length} words`);
  });
});

describe('Anthropic SDK, cross-format (model served by the OpenAI side)', () => {
  test('messages.create translated from an OpenAI upstream', T, async () => {
    const { data, response } = await client.messages
      .create({
        model: 'gpt-test', max_tokens: 256, system: 'You are terse.',
        messages: [{ role: 'user', content: 'Say something.' }],
      })
      .withResponse();
    assert.equal(response.headers.get('x-arbitra-deployment'), 'simoa/slow');
    assert.equal(data.type, 'message');
    assert.equal(data.role, 'assistant');
    assert.equal(data.model, 'gpt-test', 'translated answers carry the public model name');
    assert.equal(data.content[0].type, 'text');
    assert.equal(words(data.content[0].text).length, 20);
    assert.equal(data.stop_reason, 'end_turn', 'stop maps to end_turn');
    assert.ok(data.usage.input_tokens > 0);
    assert.equal(data.usage.output_tokens, 20);
  });

  test('the system prompt is translated into an OpenAI system message', T, async () => {
    const base = { model: 'quick-test', max_tokens: 256, messages: [{ role: 'user', content: 'Hello there.' }] };
    const bare = await client.messages.create(base);
    const withSystem = await client.messages.create({ ...base, system: LONG_SYSTEM });
    assert.ok(withSystem.usage.input_tokens >= bare.usage.input_tokens + 100,
      `system prompt counted: ${bare.usage.input_tokens} -> ${withSystem.usage.input_tokens}`);
  });

  test('max_tokens maps to stop_reason "max_tokens"', T, async () => {
    const data = await client.messages.create({
      model: 'gpt-test', max_tokens: 6, messages: [{ role: 'user', content: 'Be long.' }],
    });
    assert.equal(data.stop_reason, 'max_tokens');
    assert.equal(words(textOf(data)).length, 6);
  });

  test('messages.stream translated: full event sequence and finalMessage()', T, async () => {
    const { message, types, streamedText, textTimes } = await streamMessage({
      model: 'gpt-test', max_tokens: 256, messages: [{ role: 'user', content: 'Stream please.' }],
    });
    assertEventSequence(types);
    assert.deepEqual(shape(types), EXPECTED_STREAM_SHAPE);
    assert.equal(words(textOf(message)).length, 20);
    assert.equal(streamedText, textOf(message));
    assert.equal(message.stop_reason, 'end_turn');
    assert.ok(message.usage.input_tokens > 0, `input tokens known: ${JSON.stringify(message.usage)}`);
    assert.equal(message.usage.output_tokens, 20);
    const spread = textTimes.at(-1) - textTimes[0];
    assert.ok(spread > 150, `text arrived incrementally (first-to-last ${spread.toFixed(0)} ms)`);
  });

  test('tool call from an OpenAI upstream becomes a tool_use block (non-streamed)', T, async () => {
    const data = await client.messages.create({
      model: 'quick-test', max_tokens: 256, tools: [LOOKUP_TOOL, SEARCH_TOOL],
      tool_choice: { type: 'tool', name: 'search' },
      messages: [{ role: 'user', content: 'Find me a book.' }],
    });
    assert.equal(data.stop_reason, 'tool_use', 'tool_calls maps to tool_use');
    const blocks = data.content.filter((b) => b.type === 'tool_use');
    assert.equal(blocks.length, 1);
    assert.equal(blocks[0].name, 'search');
    assert.match(blocks[0].id, /\S/);
    assertSearchInput(blocks[0].input);
  });

  test('tool call from an OpenAI upstream, streamed as tool_use with input_json deltas', T, async () => {
    const { message, types } = await streamMessage({
      model: 'quick-test', max_tokens: 256, tools: [SEARCH_TOOL],
      messages: [{ role: 'user', content: 'Find me a book.' }],
    });
    assertEventSequence(types);
    assert.equal(message.stop_reason, 'tool_use');
    const blocks = message.content.filter((b) => b.type === 'tool_use');
    assert.equal(blocks.length, 1);
    assert.equal(blocks[0].name, 'search');
    assertSearchInput(blocks[0].input);
  });

  test('a tool_result turn is translated to an OpenAI tool message', T, async () => {
    const data = await client.messages.create({
      model: 'quick-test', max_tokens: 256, tools: [SEARCH_TOOL],
      messages: [
        { role: 'user', content: 'Find me a book.' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name: 'search', input: { query: 'book', limit: 3 } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: '["Dune"]' }] },
      ],
    });
    assert.equal(data.stop_reason, 'end_turn');
    assert.equal(words(textOf(data)).length, 12);
  });

  test('OpenAI-side 429 arrives as an Anthropic RateLimitError with Retry-After', T, async () => {
    await assert.rejects(
      client.messages.create({ model: 'limited-test', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }),
      (err) => {
        assert.ok(err instanceof Anthropic.RateLimitError, `RateLimitError, got ${err?.constructor?.name}`);
        assert.equal(err.headers.get('retry-after'), '7');
        assert.equal(err.error?.type, 'error');
        assert.equal(err.error?.error?.type, 'rate_limit_error');
        return true;
      },
    );
  });

  test('fallback from a failing OpenAI deployment to the Anthropic one', T, async () => {
    const { data, response } = await client.messages
      .create({ model: 'fallback-test', max_tokens: 256, messages: [{ role: 'user', content: 'hi' }] })
      .withResponse();
    assert.equal(response.headers.get('x-arbitra-deployment'), 'simant/slow');
    assert.equal(words(textOf(data)).length, 20);
  });

  test('mid-stream disconnect of an OpenAI upstream: Anthropic error event, no hang', T, async () => {
    const stream = client.messages.stream({
      model: 'dropper-test', max_tokens: 256, messages: [{ role: 'user', content: 'Talk.' }],
    });
    let text = '';
    stream.on('text', (d) => { text += d; });
    await assert.rejects(stream.finalMessage(), (err) => err instanceof Anthropic.APIError);
    assert.ok(words(text).length > 0 && words(text).length < 40, `partial text first: ${words(text).length} words`);
  });

  test('the gateway survived all of the above', T, async () => {
    assertHealthyProcess(gw);
    assertHealthyProcess(sim);
  });
});
