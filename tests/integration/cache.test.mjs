// The response cache through the real binary and the simulator: exact and
// semantic hits with their headers, streamed replay with the live chunk shape
// in both wire formats, controls, model-group isolation, and snapshots across
// a restart (a corrupt one is refused and the gateway starts empty).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';

import {
  assertHealthyProcess, httpRequest, httpStream, ms, parseSSE, standardConfig, startGateway, startSim, stopAll,
  tempFile,
} from './harness.mjs';

const T = { timeout: ms(30_000) };
let sim;

const CACHE = (snapshot) => `cache:
  max_bytes: 16777216
${snapshot ? `  snapshot: ${snapshot}\n` : ''}  default: { mode: semantic, verify_fraction: 0 }
  models:
    other-test: { mode: semantic, verify_fraction: 0 }
    exact-test: { mode: exact }
`;

function config(snapshot) {
  return standardConfig(sim.port, {
    models: `  other-test: [{ provider: simoa, model: quick }]
  exact-test: [{ provider: simoa, model: quick }]
  priced-test: [{ provider: simoa, model: quick, price: { input: 0.15, output: 0.60 } }]
`,
  }) + CACHE(snapshot);
}

function chat(model, question, extra = {}) {
  return { model, messages: [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: question }], ...extra };
}

async function simRequests() {
  const res = await httpRequest(sim.url, '/sim/stats');
  return res.json.requests;
}

// The shape of a JSON value: keys and types, values ignored.
function shape(value) {
  if (Array.isArray(value)) return value.map(shape);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, shape(value[k])]));
  }
  return value === null ? null : typeof value;
}

// The first line of the child's output (stderr or stdout) matching `pattern`, waiting for it.
async function logged(child, pattern) {
  for (let i = 0; i < 50; i++) {
    const found = (child.stderr + child.stdout).match(pattern);
    if (found) return found[0];
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`no log line matching ${pattern}:\n${child.stderr}`);
}

function streamText(events, anthropic) {
  return events.map((e) => (anthropic ? e.json?.delta?.text : e.json?.choices?.[0]?.delta?.content) ?? '').join('');
}

before(async () => {
  sim = await startSim();
});
after(stopAll);

describe('cache through the gateway', () => {
  let gw;
  const snapshot = tempFile('cache.snap', '');
  before(async () => {
    fs.rmSync(snapshot);
    gw = await startGateway({ config: config(snapshot) });
  });

  test('the same request hits exactly, without calling the upstream', T, async () => {
    const body = chat('quick-test', 'What is the capital of France?', { temperature: 0 });
    const first = await httpRequest(gw.url, '/v1/chat/completions', { body });
    assert.equal(first.status, 200);
    assert.equal(first.headers.get('x-arbitra-cache'), 'miss');
    await new Promise((r) => setTimeout(r, 100)); // stored on the pool after the answer
    const before = await simRequests();
    const second = await httpRequest(gw.url, '/v1/chat/completions', { body });
    assert.equal(second.status, 200);
    assert.equal(second.headers.get('x-arbitra-cache'), 'hit-exact');
    assert.equal(second.headers.get('x-arbitra-provider'), 'cache');
    assert.equal(await simRequests(), before, 'a hit must not reach the upstream');
    assert.equal(second.json.choices[0].message.content, first.json.choices[0].message.content);
    assert.deepEqual(shape(second.json), shape(first.json));
    assert.equal(second.json.model, 'quick-test');
  });

  test('a paraphrase hits by meaning and reports similarity and threshold; a near-miss does not', T, async () => {
    const first = await httpRequest(gw.url, '/v1/chat/completions', { body: chat('quick-test', 'How do I reset my password?') });
    assert.equal(first.headers.get('x-arbitra-cache'), 'miss');
    await new Promise((r) => setTimeout(r, 100));
    const para = await httpRequest(gw.url, '/v1/chat/completions', { body: chat('quick-test', 'how can I reset my password') });
    const header = para.headers.get('x-arbitra-cache');
    assert.match(header, /^hit-semantic; sim=0\.\d{3}; threshold=0\.\d{3}$/);
    const [, sim_, thr] = header.match(/sim=([\d.]+); threshold=([\d.]+)/);
    assert.ok(Number(sim_) >= Number(thr));
    assert.equal(para.json.choices[0].message.content, first.json.choices[0].message.content);
    const near = await httpRequest(gw.url, '/v1/chat/completions', { body: chat('quick-test', 'How do I reset my username?') });
    assert.equal(near.headers.get('x-arbitra-cache'), 'miss');
    const negated = await httpRequest(gw.url, '/v1/chat/completions', { body: chat('quick-test', "How do I not reset my password?") });
    assert.equal(negated.headers.get('x-arbitra-cache'), 'miss');
  });

  test('never served across model groups, nor by meaning in an exact-mode group', T, async () => {
    const q = 'Which planet is the largest?';
    await httpRequest(gw.url, '/v1/chat/completions', { body: chat('quick-test', q) });
    await new Promise((r) => setTimeout(r, 100));
    const other = await httpRequest(gw.url, '/v1/chat/completions', { body: chat('other-test', q) });
    assert.equal(other.headers.get('x-arbitra-cache'), 'miss');
    await httpRequest(gw.url, '/v1/chat/completions', { body: chat('exact-test', q) });
    await new Promise((r) => setTimeout(r, 100));
    const para = await httpRequest(gw.url, '/v1/chat/completions', { body: chat('exact-test', 'which planet is largest') });
    assert.equal(para.headers.get('x-arbitra-cache'), 'miss');
    const same = await httpRequest(gw.url, '/v1/chat/completions', { body: chat('exact-test', q) });
    assert.equal(same.headers.get('x-arbitra-cache'), 'hit-exact');
  });

  for (const anthropic of [false, true]) {
    const name = anthropic ? 'Anthropic' : 'OpenAI';
    test(`${name}: a streamed replay has the live stream's chunk shapes and text`, T, async () => {
      const route = anthropic ? '/v1/messages' : '/v1/chat/completions';
      const body = anthropic
        ? { model: 'claude-quick', max_tokens: 64, stream: true, system: 'Be brief.', messages: [{ role: 'user', content: `Name a ${name} colour` }] }
        : { ...chat('quick-test', `Name a ${name} colour`), stream: true, stream_options: { include_usage: true } };
      const live = await httpStream(gw.url, route, { body });
      assert.equal(live.status, 200);
      assert.equal(live.headers.get('x-arbitra-cache'), 'miss');
      await new Promise((r) => setTimeout(r, 100));
      const replay = await httpStream(gw.url, route, { body });
      assert.equal(replay.headers.get('x-arbitra-cache'), 'hit-exact');
      assert.equal(replay.headers.get('content-type'), 'text/event-stream');
      const a = parseSSE(live.text);
      const b = parseSSE(replay.text);
      assert.equal(streamText(b, anthropic), streamText(a, anthropic));
      // Same event names in the same order, each data the same JSON shape; the
      // text may be cut into different pieces, so compare distinct shapes in order.
      const sig = (events) => {
        const out = [];
        for (const e of events) {
          const s = e.event + ' ' + JSON.stringify(e.json === undefined ? e.data : shape(e.json));
          if (out.at(-1) !== s) out.push(s);
        }
        return out;
      };
      assert.deepEqual(sig(b), sig(a));
      // Non-streamed request for the same content is served from the same entry.
      const whole = await httpRequest(gw.url, route, { body: { ...body, stream: false, stream_options: undefined } });
      assert.equal(whole.headers.get('x-arbitra-cache'), 'hit-exact');
    });
  }

  test('x-arbitra-cache: no-cache refreshes, no-store does not store, a bad value is a 400', T, async () => {
    const body = chat('quick-test', 'Tell me a fact about owls', { temperature: 0 });
    await httpRequest(gw.url, '/v1/chat/completions', { body });
    await new Promise((r) => setTimeout(r, 100));
    const before = await simRequests();
    const fresh = await httpRequest(gw.url, '/v1/chat/completions', { body, headers: { 'x-arbitra-cache': 'no-cache' } });
    assert.equal(fresh.headers.get('x-arbitra-cache'), 'miss');
    assert.equal(await simRequests(), before + 1);
    const bodyField = await httpRequest(gw.url, '/v1/chat/completions', { body: { ...chat('quick-test', 'Tell me a fact about bats'), arbitra_cache: 'no-store' } });
    assert.equal(bodyField.status, 200);
    await new Promise((r) => setTimeout(r, 100));
    const again = await httpRequest(gw.url, '/v1/chat/completions', { body: chat('quick-test', 'Tell me a fact about bats') });
    assert.equal(again.headers.get('x-arbitra-cache'), 'miss');
    const bad = await httpRequest(gw.url, '/v1/chat/completions', { body, headers: { 'x-arbitra-cache': 'forever' } });
    assert.equal(bad.status, 400);
    assert.match(bad.json.error.message, /x-arbitra-cache/);
  });

  test('a snapshot survives a restart', T, async () => {
    const body = chat('quick-test', 'What is the boiling point of water?', { temperature: 0 });
    const first = await httpRequest(gw.url, '/v1/chat/completions', { body });
    await new Promise((r) => setTimeout(r, 100));
    const stopped = await gw.stop();
    assert.equal(stopped.code, 0);
    assert.ok(fs.statSync(snapshot).size > 100, 'snapshot written at shutdown');
    const restarted = await startGateway({ config: config(snapshot) });
    assert.match(await logged(restarted, /cache snapshot .* loaded: \d+ entries/), /loaded: [1-9]\d* entries/);
    const hit = await httpRequest(restarted.url, '/v1/chat/completions', { body });
    assert.equal(hit.headers.get('x-arbitra-cache'), 'hit-exact');
    assert.equal(hit.json.choices[0].message.content, first.json.choices[0].message.content);
    assertHealthyProcess(restarted);
  });

  test('a corrupt snapshot is refused with a clear error and the gateway starts with an empty cache', T, async () => {
    const bad = tempFile('corrupt.snap', 'ARBCACHE' + '\u0001\u0000\u0000\u0000' + 'garbage'.repeat(20));
    const started = await startGateway({ config: config(bad) });
    const line = await logged(started, /cache snapshot .* rejected: .*/);
    assert.ok(line.includes(`cache snapshot ${bad} rejected: `), line);
    assert.match(line, /checksum|truncated|not an arbitra cache snapshot/);
    assert.match(line, /; starting with an empty cache/);
    const res = await httpRequest(started.url, '/v1/chat/completions', { body: chat('quick-test', 'What is the boiling point of water?', { temperature: 0 }) });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-arbitra-cache'), 'miss');
  });
});

describe('cache with the /v1/embeddings deployment embedder', () => {
  let gw;
  before(async () => {
    const yaml = standardConfig(sim.port) + `cache:
  embedder: { kind: deployment, model: embed-test }
  default: { mode: semantic, verify_fraction: 0 }
`;
    gw = await startGateway({ config: yaml });
  });

  test('the final user turn is embedded by the deployment and matched by meaning', T, async () => {
    // Two text parts vs one joined text: different exact keys, the same
    // final-turn text, so the simulator's embedding is identical (sim 1.000).
    const parts = { model: 'quick-test', messages: [{ role: 'user', content: [{ type: 'text', text: 'Where is my parcel' }, { type: 'text', text: 'number 42?' }] }] };
    const joined = { model: 'quick-test', messages: [{ role: 'user', content: 'Where is my parcel\nnumber 42?' }] };
    const before = await simRequests();
    const first = await httpRequest(gw.url, '/v1/chat/completions', { body: parts });
    assert.equal(first.headers.get('x-arbitra-cache'), 'miss');
    assert.equal(await simRequests(), before + 2, 'one embedding call and one chat call');
    await new Promise((r) => setTimeout(r, 100));
    const second = await httpRequest(gw.url, '/v1/chat/completions', { body: joined });
    assert.match(second.headers.get('x-arbitra-cache'), /^hit-semantic; sim=1\.000; threshold=0\.900$/);
    assert.equal(second.json.choices[0].message.content, first.json.choices[0].message.content);
    assert.equal(await simRequests(), before + 3, 'the hit cost one embedding call, no chat call');
  });

  test('the local engine embedder needs an existing model file (file:line at start-up)', T, async () => {
    const yaml = standardConfig(sim.port) + `cache:
  embedder: { kind: local, model: /nonexistent/some.gguf }
`;
    await assert.rejects(startGateway({ config: yaml }), /arbitra\.yaml:\d+: embedder model file \/nonexistent\/some\.gguf does not exist/);
  });

  test('an unknown embedder model is refused at start with file:line', T, async () => {
    const yaml = standardConfig(sim.port) + `cache:
  embedder: { kind: deployment, model: no-such-model }
`;
    await assert.rejects(startGateway({ config: yaml }), /cache embedder model 'no-such-model' is not a model this gateway serves/);
  });
});
