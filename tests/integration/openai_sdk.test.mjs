// Compatibility with the official `openai` Node SDK (pinned in package.json):
// the gateway must look like the OpenAI API to it, for OpenAI-side models and,
// translated, for models served by an Anthropic-kind deployment.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';

import {
  CLIENT_KEY, assertHealthyProcess, ms, standardConfig, startGateway, startSim, stopAll, words,
} from './harness.mjs';

let sim;
let gw;
let client;

before(async () => {
  sim = await startSim();
  gw = await startGateway({ config: standardConfig(sim.port) });
  client = new OpenAI({ apiKey: CLIENT_KEY, baseURL: `${gw.url}/v1`, maxRetries: 0, timeout: ms(20_000) });
});
after(stopAll);

const T = { timeout: ms(30_000) };
const LONG_SYSTEM = 'You answer in exactly the style of a terse ship captain. '.repeat(10);

const SEARCH_TOOL = {
  type: 'function',
  function: {
    name: 'search',
    description: 'Search the catalogue',
    parameters: {
      type: 'object',
      properties: { query: { type: 'string' }, limit: { type: 'integer' } },
      required: ['query'],
    },
  },
};
const LOOKUP_TOOL = {
  type: 'function',
  function: {
    name: 'lookup',
    description: 'Look a word up',
    parameters: { type: 'object', properties: { word: { type: 'string' } } },
  },
};

// Collects a chat stream: text, finish reasons, usage chunks, tool calls by
// index, and when each content piece arrived.
async function collect(stream) {
  const started = performance.now();
  const out = { text: '', finish: [], usage: [], tools: new Map(), contentTimes: [], chunks: 0, objects: new Set() };
  for await (const chunk of stream) {
    out.chunks++;
    out.objects.add(chunk.object);
    if (chunk.usage) out.usage.push({ usage: chunk.usage, choices: chunk.choices.length });
    for (const choice of chunk.choices) {
      const delta = choice.delta ?? {};
      if (delta.content) {
        out.text += delta.content;
        out.contentTimes.push(performance.now() - started);
      }
      for (const call of delta.tool_calls ?? []) {
        const entry = out.tools.get(call.index) ?? { id: '', name: '', args: '', fragments: 0 };
        if (call.id) entry.id += call.id;
        if (call.function?.name) entry.name += call.function.name;
        if (call.function?.arguments) {
          entry.args += call.function.arguments;
          entry.fragments++;
        }
        out.tools.set(call.index, entry);
      }
      if (choice.finish_reason) out.finish.push(choice.finish_reason);
    }
  }
  return out;
}

function assertSearchArguments(argsText) {
  let args;
  assert.doesNotThrow(() => { args = JSON.parse(argsText); }, `tool arguments are JSON: ${argsText}`);
  assert.equal(typeof args.query, 'string', `arguments.query is a string: ${argsText}`);
  assert.ok(args.query.length > 0);
  assert.equal(args.limit, 3, `arguments.limit is 3: ${argsText}`);
}

describe('OpenAI SDK, OpenAI-side model', () => {
  test('plain chat completion: message, finish reason, usage and routing headers', T, async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'gpt-test', messages: [{ role: 'user', content: 'Say something.' }] })
      .withResponse();
    assert.equal(data.object, 'chat.completion');
    assert.equal(data.choices.length, 1);
    const choice = data.choices[0];
    assert.equal(choice.message.role, 'assistant');
    assert.equal(words(choice.message.content).length, 20, `20 words (slow's output_tokens): ${choice.message.content}`);
    assert.equal(choice.finish_reason, 'stop');
    assert.ok(data.usage.prompt_tokens > 0);
    assert.equal(data.usage.completion_tokens, 20);
    assert.equal(data.usage.total_tokens, data.usage.prompt_tokens + data.usage.completion_tokens);
    assert.equal(response.headers.get('x-arbitra-deployment'), 'simoa/slow');
    assert.equal(response.headers.get('x-arbitra-provider'), 'simoa');
    assert.match(response.headers.get('x-arbitra-request-id') ?? '', /\S{6,}/);
    assert.equal(response.headers.get('x-arbitra-simulated'), null, 'a configured provider is not labelled simulated');
  });

  test('request ids differ between requests', T, async () => {
    const ids = new Set();
    for (let i = 0; i < 3; i++) {
      const { response } = await client.chat.completions
        .create({ model: 'quick-test', messages: [{ role: 'user', content: `n${i}` }] })
        .withResponse();
      ids.add(response.headers.get('x-arbitra-request-id'));
    }
    assert.equal(ids.size, 3);
  });

  test('max_tokens below the model output gives finish_reason "length"', T, async () => {
    const data = await client.chat.completions.create({
      model: 'gpt-test', max_tokens: 5, messages: [{ role: 'user', content: 'Be long.' }],
    });
    assert.equal(data.choices[0].finish_reason, 'length');
    assert.equal(words(data.choices[0].message.content).length, 5);
    assert.equal(data.usage.completion_tokens, 5);
  });

  test('system prompt reaches the upstream (billed as input tokens)', T, async () => {
    const user = [{ role: 'user', content: 'Hello there.' }];
    const bare = await client.chat.completions.create({ model: 'quick-test', messages: user });
    const withSystem = await client.chat.completions.create({
      model: 'quick-test', messages: [{ role: 'system', content: LONG_SYSTEM }, ...user],
    });
    assert.ok(withSystem.usage.prompt_tokens >= bare.usage.prompt_tokens + 100,
      `system prompt counted: ${bare.usage.prompt_tokens} -> ${withSystem.usage.prompt_tokens}`);
  });

  test('streamed chat with stream_options.include_usage ends with a usage chunk', T, async () => {
    const { data: stream, response } = await client.chat.completions
      .create({
        model: 'gpt-test', stream: true, stream_options: { include_usage: true },
        messages: [{ role: 'user', content: 'Stream please.' }],
      })
      .withResponse();
    assert.match(response.headers.get('content-type') ?? '', /text\/event-stream/);
    assert.equal(response.headers.get('x-arbitra-deployment'), 'simoa/slow');
    const out = await collect(stream);
    assert.deepEqual([...out.objects], ['chat.completion.chunk']);
    assert.equal(words(out.text).length, 20, `streamed text: ${out.text}`);
    assert.deepEqual(out.finish, ['stop']);
    assert.equal(out.usage.length, 1, 'exactly one usage chunk');
    assert.equal(out.usage[0].choices, 0, 'the usage chunk has no choices');
    assert.ok(out.usage[0].usage.prompt_tokens > 0);
    assert.equal(out.usage[0].usage.completion_tokens, 20);
    // Relayed as generated (50 tokens/s upstream), not buffered to the end.
    const spread = out.contentTimes.at(-1) - out.contentTimes[0];
    assert.ok(spread > 150, `content arrived incrementally (first-to-last ${spread.toFixed(0)} ms)`);
  });

  test('streamed chat without include_usage has no usage chunk', T, async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-test', stream: true, messages: [{ role: 'user', content: 'Stream, no usage.' }],
    });
    const out = await collect(stream);
    assert.equal(words(out.text).length, 20);
    assert.deepEqual(out.finish, ['stop']);
    assert.equal(out.usage.length, 0, `no chunk carries usage: ${JSON.stringify(out.usage)}`);
  });

  test('tool call streamed: arguments arrive in fragments and reassemble to JSON', T, async () => {
    const stream = await client.chat.completions.create({
      model: 'quick-test', stream: true, tools: [SEARCH_TOOL],
      messages: [{ role: 'user', content: 'Find me a book.' }],
    });
    const out = await collect(stream);
    assert.equal(out.tools.size, 1, 'one tool call');
    const call = out.tools.get(0);
    assert.ok(call, 'tool call at index 0');
    assert.equal(call.name, 'search');
    assert.ok(call.id.length > 0, 'tool call has an id');
    assert.ok(call.fragments > 1, `arguments streamed in several fragments (${call.fragments})`);
    assertSearchArguments(call.args);
    assert.deepEqual(out.finish, ['tool_calls']);
    assert.equal(out.text, '');
  });

  test('tool_choice naming a tool calls that tool (non-streamed)', T, async () => {
    const data = await client.chat.completions.create({
      model: 'quick-test', tools: [LOOKUP_TOOL, SEARCH_TOOL],
      tool_choice: { type: 'function', function: { name: 'search' } },
      messages: [{ role: 'user', content: 'Search for it.' }],
    });
    const choice = data.choices[0];
    assert.equal(choice.finish_reason, 'tool_calls');
    assert.equal(choice.message.tool_calls.length, 1);
    assert.equal(choice.message.tool_calls[0].type, 'function');
    assert.equal(choice.message.tool_calls[0].function.name, 'search');
    assertSearchArguments(choice.message.tool_calls[0].function.arguments);
  });

  test('a tool result turn gets a text answer', T, async () => {
    const data = await client.chat.completions.create({
      model: 'quick-test', tools: [SEARCH_TOOL],
      messages: [
        { role: 'user', content: 'Find me a book.' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'search', arguments: '{"query":"book","limit":3}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: '["Dune"]' },
      ],
    });
    assert.equal(data.choices[0].finish_reason, 'stop');
    assert.equal(words(data.choices[0].message.content).length, 12);
    assert.ok(!data.choices[0].message.tool_calls?.length, 'no new tool call');
  });

  test('embeddings (float) return one 8-dimensional vector per input', T, async () => {
    const { data, response } = await client.embeddings
      .create({ model: 'embed-test', input: ['alpha', 'beta'], encoding_format: 'float' })
      .withResponse();
    assert.equal(data.object, 'list');
    assert.equal(data.data.length, 2);
    assert.deepEqual(data.data.map((d) => d.index), [0, 1]);
    for (const item of data.data) {
      assert.equal(item.embedding.length, 8);
      assert.ok(item.embedding.every((x) => typeof x === 'number' && x >= -1 && x <= 1));
    }
    assert.notDeepEqual(data.data[0].embedding, data.data[1].embedding);
    assert.ok(data.usage.prompt_tokens > 0);
    assert.equal(response.headers.get('x-arbitra-deployment'), 'simoa/sim-embed');
  });

  test('embeddings with the SDK default (base64 encoding) decode to the same vectors', T, async () => {
    // The SDK asks for encoding_format "base64" unless told otherwise and
    // decodes little-endian float32; a float array answer decodes to junk.
    const floats = await client.embeddings.create({ model: 'embed-test', input: 'gamma', encoding_format: 'float' });
    const decoded = await client.embeddings.create({ model: 'embed-test', input: 'gamma' });
    assert.equal(decoded.data[0].embedding.length, 8, `8 dimensions after base64 decoding, got ${JSON.stringify(decoded.data[0].embedding)}`);
    decoded.data[0].embedding.forEach((x, i) => {
      assert.ok(Math.abs(x - floats.data[0].embedding[i]) < 1e-6, `dimension ${i}: ${x} vs ${floats.data[0].embedding[i]}`);
    });
  });

  test('models.list lists the configured public models', T, async () => {
    const ids = [];
    for await (const model of client.models.list()) {
      assert.equal(model.object, 'model');
      ids.push(model.id);
    }
    for (const name of ['gpt-test', 'claude-test', 'fallback-test', 'embed-test']) {
      assert.ok(ids.includes(name), `${name} listed in ${ids}`);
    }
  });

  test('unknown model: NotFoundError 404 whose message lists known models', T, async () => {
    await assert.rejects(
      client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'hi' }] }),
      (err) => {
        assert.ok(err instanceof OpenAI.NotFoundError, `NotFoundError, got ${err?.constructor?.name}: ${err}`);
        assert.equal(err.status, 404);
        assert.match(err.message, /no-such-model/);
        assert.match(err.message, /gpt-test/, 'known models listed');
        assert.equal(typeof err.error?.type, 'string');
        return true;
      },
    );
  });

  test('provider-prefix routing: simoa/<model> reaches that upstream model', T, async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'simoa/quick', messages: [{ role: 'user', content: 'hi' }] })
      .withResponse();
    assert.equal(response.headers.get('x-arbitra-deployment'), 'simoa/quick');
    assert.equal(words(data.choices[0].message.content).length, 12);
  });

  test('upstream 429 surfaces as RateLimitError with Retry-After', T, async () => {
    await assert.rejects(
      client.chat.completions.create({ model: 'limited-test', messages: [{ role: 'user', content: 'hi' }] }),
      (err) => {
        assert.ok(err instanceof OpenAI.RateLimitError, `RateLimitError, got ${err?.constructor?.name}: ${err}`);
        assert.ok(err instanceof OpenAI.APIError);
        assert.equal(err.status, 429);
        assert.equal(err.headers.get('retry-after'), '7');
        return true;
      },
    );
  });

  test('upstream 429 without Retry-After (status:429 model) is still a 429', T, async () => {
    await assert.rejects(
      client.chat.completions.create({ model: 'status429-test', messages: [{ role: 'user', content: 'hi' }] }),
      (err) => err instanceof OpenAI.RateLimitError && err.status === 429,
    );
  });

  test('upstream 500 surfaces as a 502 APIError', T, async () => {
    await assert.rejects(
      client.chat.completions.create({ model: 'flaky-test', messages: [{ role: 'user', content: 'hi' }] }),
      (err) => {
        assert.ok(err instanceof OpenAI.InternalServerError, `InternalServerError, got ${err?.constructor?.name}`);
        assert.equal(err.status, 502);
        return true;
      },
    );
  });

  test('fallback: a failing first deployment is skipped (streamed and not)', T, async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'fallback-test', messages: [{ role: 'user', content: 'hi' }] })
      .withResponse();
    assert.equal(response.headers.get('x-arbitra-deployment'), 'simant/slow');
    assert.equal(response.headers.get('x-arbitra-provider'), 'simant');
    assert.equal(words(data.choices[0].message.content).length, 20);

    const { data: stream, response: streamed } = await client.chat.completions
      .create({ model: 'fallback-test', stream: true, messages: [{ role: 'user', content: 'hi' }] })
      .withResponse();
    assert.equal(streamed.headers.get('x-arbitra-deployment'), 'simant/slow');
    const out = await collect(stream);
    assert.equal(words(out.text).length, 20);
    assert.deepEqual(out.finish, ['stop']);
  });

  test('mid-stream upstream disconnect: the SDK gets an error after partial content, no hang', T, async () => {
    const stream = await client.chat.completions.create({
      model: 'dropper-test', stream: true, messages: [{ role: 'user', content: 'Talk.' }],
    });
    let text = '';
    await assert.rejects(
      (async () => {
        for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
      })(),
      (err) => {
        assert.ok(err instanceof OpenAI.APIError, `APIError from the in-stream error event, got ${err?.constructor?.name}: ${err}`);
        return true;
      },
    );
    assert.ok(words(text).length > 0 && words(text).length < 40, `partial content before the error: ${words(text).length} words`);
  });
});

describe('OpenAI SDK, cross-format (model served by the Anthropic side)', () => {
  test('chat completion translated from an Anthropic upstream', T, async () => {
    const { data, response } = await client.chat.completions
      .create({
        model: 'claude-test',
        messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Say something.' }],
      })
      .withResponse();
    assert.equal(response.headers.get('x-arbitra-deployment'), 'simant/slow');
    assert.equal(response.headers.get('x-arbitra-provider'), 'simant');
    assert.equal(data.object, 'chat.completion');
    assert.equal(data.model, 'claude-test', 'translated answers carry the public model name');
    assert.equal(data.choices[0].message.role, 'assistant');
    assert.equal(words(data.choices[0].message.content).length, 20);
    assert.equal(data.choices[0].finish_reason, 'stop', 'end_turn maps to stop');
    assert.ok(data.usage.prompt_tokens > 0);
    assert.equal(data.usage.completion_tokens, 20);
    assert.equal(data.usage.total_tokens, data.usage.prompt_tokens + data.usage.completion_tokens);
  });

  test('system message is translated to the Anthropic system prompt', T, async () => {
    const user = [{ role: 'user', content: 'Hello there.' }];
    const bare = await client.chat.completions.create({ model: 'claude-quick', messages: user });
    const withSystem = await client.chat.completions.create({
      model: 'claude-quick', messages: [{ role: 'system', content: LONG_SYSTEM }, ...user],
    });
    assert.ok(withSystem.usage.prompt_tokens >= bare.usage.prompt_tokens + 100,
      `system prompt counted: ${bare.usage.prompt_tokens} -> ${withSystem.usage.prompt_tokens}`);
  });

  test('max_tokens maps to finish_reason "length"', T, async () => {
    const data = await client.chat.completions.create({
      model: 'claude-test', max_tokens: 4, messages: [{ role: 'user', content: 'Be long.' }],
    });
    assert.equal(data.choices[0].finish_reason, 'length');
    assert.equal(words(data.choices[0].message.content).length, 4);
  });

  test('streamed, translated, with include_usage', T, async () => {
    const stream = await client.chat.completions.create({
      model: 'claude-test', stream: true, stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'Stream please.' }],
    });
    const out = await collect(stream);
    assert.deepEqual([...out.objects], ['chat.completion.chunk']);
    assert.equal(words(out.text).length, 20, `streamed text: ${out.text}`);
    assert.deepEqual(out.finish, ['stop']);
    assert.equal(out.usage.length, 1, `exactly one usage chunk: ${JSON.stringify(out.usage)}`);
    assert.equal(out.usage[0].choices, 0);
    assert.ok(out.usage[0].usage.prompt_tokens > 0);
    assert.equal(out.usage[0].usage.completion_tokens, 20);
    const spread = out.contentTimes.at(-1) - out.contentTimes[0];
    assert.ok(spread > 150, `content arrived incrementally (first-to-last ${spread.toFixed(0)} ms)`);
  });

  test('streamed, translated, without include_usage: no usage chunk', T, async () => {
    const stream = await client.chat.completions.create({
      model: 'claude-test', stream: true, messages: [{ role: 'user', content: 'Stream.' }],
    });
    const out = await collect(stream);
    assert.equal(words(out.text).length, 20);
    assert.deepEqual(out.finish, ['stop']);
    assert.equal(out.usage.length, 0, `no usage chunk: ${JSON.stringify(out.usage)}`);
  });

  test('tool call from an Anthropic upstream, streamed as OpenAI tool_calls deltas', T, async () => {
    const stream = await client.chat.completions.create({
      model: 'claude-quick', stream: true, tools: [SEARCH_TOOL],
      messages: [{ role: 'user', content: 'Find me a book.' }],
    });
    const out = await collect(stream);
    assert.equal(out.tools.size, 1);
    const call = out.tools.get(0);
    assert.equal(call.name, 'search');
    assert.ok(call.id.length > 0);
    assertSearchArguments(call.args);
    assert.deepEqual(out.finish, ['tool_calls'], 'tool_use maps to tool_calls');
  });

  test('tool call from an Anthropic upstream, non-streamed, with a named tool_choice', T, async () => {
    const data = await client.chat.completions.create({
      model: 'claude-quick', tools: [LOOKUP_TOOL, SEARCH_TOOL],
      tool_choice: { type: 'function', function: { name: 'search' } },
      messages: [{ role: 'user', content: 'Search for it.' }],
    });
    const choice = data.choices[0];
    assert.equal(choice.finish_reason, 'tool_calls');
    assert.equal(choice.message.tool_calls.length, 1);
    assert.equal(choice.message.tool_calls[0].function.name, 'search');
    assertSearchArguments(choice.message.tool_calls[0].function.arguments);
  });

  test('tool result turn is translated (Anthropic upstream answers with text)', T, async () => {
    const data = await client.chat.completions.create({
      model: 'claude-quick', tools: [SEARCH_TOOL],
      messages: [
        { role: 'user', content: 'Find me a book.' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'search', arguments: '{"query":"book","limit":3}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: '["Dune"]' },
      ],
    });
    assert.equal(data.choices[0].finish_reason, 'stop');
    assert.equal(words(data.choices[0].message.content).length, 12);
  });

  test('Anthropic-side 429 arrives as an OpenAI RateLimitError with Retry-After', T, async () => {
    await assert.rejects(
      client.chat.completions.create({ model: 'claude-limited', messages: [{ role: 'user', content: 'hi' }] }),
      (err) => {
        assert.ok(err instanceof OpenAI.RateLimitError, `RateLimitError, got ${err?.constructor?.name}`);
        assert.equal(err.headers.get('retry-after'), '7');
        return true;
      },
    );
  });

  test('mid-stream disconnect of an Anthropic upstream: translated error event, no hang', T, async () => {
    const stream = await client.chat.completions.create({
      model: 'claude-dropper', stream: true, messages: [{ role: 'user', content: 'Talk.' }],
    });
    let text = '';
    await assert.rejects(
      (async () => {
        for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
      })(),
      (err) => err instanceof OpenAI.APIError,
    );
    assert.ok(words(text).length > 0 && words(text).length < 40, `partial content: ${words(text).length} words`);
  });

  test('the gateway survived all of the above', T, async () => {
    assertHealthyProcess(gw);
    assertHealthyProcess(sim);
  });
});
