// Config reload (SIGHUP and POST /admin/reload) on the real binary: new
// requests follow the new file, a stream that started before the reload
// ends intact on the old config, a broken file is refused with file:line
// while the old config serves on, restart-only settings are named and kept,
// and a removed local model (the generated tiny model) is unloaded.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  ARBITRA_BIN, SIM_KEY, assertHealthyProcess, assertNoSecret, assertOpenAIError, cleanEnv, httpRequest, ms, parseSSE,
  sleep, startGateway, startSim, stopAll, tempFile,
} from './harness.mjs';

const T = { timeout: ms(60_000) };
const MASTER = 'master-key-for-reload-tests-0123';
const ADMIN = { authorization: `Bearer ${MASTER}` };
const TINY = path.join(path.dirname(ARBITRA_BIN), 'models', 'tiny.gguf');

// A long stream: ~4 s of tokens, so a reload lands in its middle.
const SIM = `seed: 3
models:
  - name: quick
    output_tokens: 8
  - name: long
    ttft_ms: 50
    tokens_per_second: 20
    output_tokens: 80
`;

const providersYaml = (port) => `providers:
  simoa: { kind: openai, base_url: "http://127.0.0.1:${port}/v1", api_key: "\${SIM_KEY}" }
  simant: { kind: anthropic, base_url: "http://127.0.0.1:${port}", api_key: "\${SIM_KEY}" }
`;

const chat = (model, extra = {}) => ({ model, messages: [{ role: 'user', content: 'hello' }], ...extra });

async function deploymentFor(gw, model) {
  const r = await httpRequest(gw.url, '/v1/chat/completions', { body: chat(model) });
  return { status: r.status, deployment: r.headers.get('x-arbitra-deployment'), json: r.json };
}

async function metric(gw, line) {
  const m = await httpRequest(gw.url, '/metrics');
  const found = m.text.split('\n').find((l) => l.startsWith(line + ' '));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
}

async function waitFor(what, check, timeoutMs = ms(10_000)) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('config reload', () => {
  let sim;
  let gw;
  let file;
  let configA;
  let configB;

  before(async () => {
    sim = await startSim({ yaml: SIM });
    // The stream's provider exists in config A only: the reload releases it
    // while the stream still reads from it (an ASan build would catch a use
    // after free if the request did not hold its config).
    configA = `server: { host: 127.0.0.1, port: 0, threads: 2 }
${providersYaml(sim.port)}  simstream: { kind: openai, base_url: "http://127.0.0.1:${sim.port}/v1", api_key: "\${SIM_KEY}" }
models:
  chat: [{ provider: simoa, model: quick }]
  only-in-a: [{ provider: simoa, model: quick }]
  streamer: [{ provider: simstream, model: long }]
`;
    configB = `server: { host: 127.0.0.1, port: 0, threads: 2 }
${providersYaml(sim.port)}models:
  chat: [{ provider: simant, model: quick }]
  only-in-b: [{ provider: simoa, model: quick }]
`;
    file = tempFile('reload.yaml', configA);
    gw = await startGateway({ args: ['--config', file], env: cleanEnv({ SIM_KEY, ARBITRA_MASTER_KEY: MASTER }) });
  });
  after(stopAll);

  test('SIGHUP: new requests route per the new file; a stream started before it ends intact', T, async () => {
    assert.equal((await deploymentFor(gw, 'chat')).deployment, 'simoa/quick');
    assert.equal((await deploymentFor(gw, 'only-in-a')).status, 200);
    assert.equal(await metric(gw, 'arbitra_config_generation'), 1);

    // The stream starts on config A (headers come with its first event).
    const started = performance.now();
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(chat('streamer', { stream: true })),
      signal: AbortSignal.timeout(ms(20_000)),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-arbitra-deployment'), 'simstream/long');
    const body = (async () => {
      const decoder = new TextDecoder();
      let text = '';
      let lastAt = 0;
      for await (const chunk of res.body) {
        text += decoder.decode(chunk, { stream: true });
        lastAt = performance.now() - started;
      }
      return { text, lastAt };
    })();

    fs.writeFileSync(file, configB);
    gw.proc.kill('SIGHUP');
    await waitFor('generation 2', async () => (await metric(gw, 'arbitra_config_generation')) === 2);
    const reloadedAt = performance.now() - started;
    assert.equal(await metric(gw, 'arbitra_config_reloads_total{result="ok"}'), 1);

    const now = await deploymentFor(gw, 'chat');
    assert.equal(now.status, 200);
    assert.equal(now.deployment, 'simant/quick', 'the same public name now routes to config B\'s deployment');
    const gone = await deploymentFor(gw, 'only-in-a');
    assert.equal(gone.status, 404);
    assert.match(gone.json.error.message, /only-in-b/, 'the 404 lists config B\'s models');
    assert.equal((await deploymentFor(gw, 'only-in-b')).status, 200);
    assert.equal((await deploymentFor(gw, 'streamer')).status, 404, 'removed from config B');

    // The stream that started on config A went on after the reload and ended whole.
    const { text, lastAt } = await body;
    assert.ok(lastAt > reloadedAt, `the stream was still running when the reload was done (${lastAt} > ${reloadedAt} ms)`);
    const events = parseSSE(text);
    assert.equal(events.at(-1).data, '[DONE]');
    const finish = events.find((e) => e.json?.choices?.[0]?.finish_reason)?.json.choices[0].finish_reason;
    assert.ok(finish, 'a finish reason');
    const deltas = events.filter((e) => e.json?.choices?.[0]?.delta?.content);
    assert.ok(deltas.length >= 40, `all of the stream's pieces arrived (${deltas.length})`);
    assert.ok(!text.includes('"error"'), 'no error event in the stream');
    assert.match(gw.stderr, /config reloaded: generation 2 providers kept=\[simoa, simant\] loaded=\[-\] released=\[simstream\]/);
    assertHealthyProcess(gw);
  });

  test('POST /admin/reload: master key only; answers what changed', T, async () => {
    const noKey = await httpRequest(gw.url, '/admin/reload', { method: 'POST' });
    assert.equal(noKey.status, 401);
    assertOpenAIError(noKey.json, 401, 'reload without the master key');
    const get = await httpRequest(gw.url, '/admin/reload', { headers: ADMIN });
    assert.equal(get.status, 405);

    const configC = configB.replace('chat: [{ provider: simant, model: quick }]',
      'chat: [{ provider: simoa, model: quick }]');
    fs.writeFileSync(file, configC);
    const r = await httpRequest(gw.url, '/admin/reload', { method: 'POST', headers: ADMIN });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.status, 'ok');
    assert.equal(r.json.generation, 3);
    assert.deepEqual(r.json.providers.kept.sort(), ['simant', 'simoa'], 'providers unchanged: shared, not remade');
    assert.deepEqual(r.json.providers.loaded, []);
    assert.deepEqual(r.json.needs_restart, []);
    assert.equal((await deploymentFor(gw, 'chat')).deployment, 'simoa/quick');
    assertNoSecret(r.text, 'the reload answer');
  });

  test('a broken file is refused with file:line and the old config keeps serving', T, async () => {
    const before = (await deploymentFor(gw, 'chat')).deployment;
    const good = fs.readFileSync(file, 'utf8');
    const lines = good.trimEnd().split('\n');
    lines.push('  broken: [{ provider: nowhere, model: x }]');
    fs.writeFileSync(file, lines.join('\n') + '\n');
    const badLine = lines.length;

    const r = await httpRequest(gw.url, '/admin/reload', { method: 'POST', headers: ADMIN });
    assert.equal(r.status, 400, r.text);
    assertOpenAIError(r.json, 400, 'refused reload');
    assert.ok(r.json.error.message.startsWith(`${file}:${badLine}:`), r.json.error.message);
    assert.match(r.json.error.message, /nowhere/);
    assert.ok(gw.stderr.includes(`config reload failed, still serving generation 3: ${file}:${badLine}:`), gw.stderr.slice(-1500));

    // SIGHUP with the same file: refused too, and logged.
    gw.proc.kill('SIGHUP');
    await waitFor('two refused reloads', async () => (await metric(gw, 'arbitra_config_reloads_total{result="error"}')) === 2);
    assert.equal(await metric(gw, 'arbitra_config_generation'), 3);
    assert.equal((await deploymentFor(gw, 'chat')).deployment, before, 'still served by the last good config');

    // Not YAML at all: refused as well.
    fs.writeFileSync(file, 'models: [ {\n');
    const yaml = await httpRequest(gw.url, '/admin/reload', { method: 'POST', headers: ADMIN });
    assert.equal(yaml.status, 400);
    assert.ok(yaml.json.error.message.startsWith(`${file}:`), yaml.json.error.message);
    assert.equal((await deploymentFor(gw, 'chat')).deployment, before);
    fs.writeFileSync(file, good);
    assertHealthyProcess(gw);
  });

  test('settings that need a restart are named and keep their running values', T, async () => {
    const good = fs.readFileSync(file, 'utf8');
    fs.writeFileSync(file, good.replace('threads: 2', 'threads: 3, read_timeout_ms: 2000'));
    const r = await httpRequest(gw.url, '/admin/reload', { method: 'POST', headers: ADMIN });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.needs_restart, ['server.threads', 'server.read_timeout_ms']);
    assert.match(gw.stderr, /server\.threads, server\.read_timeout_ms changed but need a restart/);
    assert.equal((await deploymentFor(gw, 'chat')).status, 200);
  });

  test('virtual keys live outside the config: they work across a reload', T, async () => {
    const created = await httpRequest(gw.url, '/admin/keys', { body: { name: 'reload-test' }, headers: ADMIN });
    assert.equal(created.status, 201, created.text);
    const key = { authorization: `Bearer ${created.json.key}` };
    const call = (headers) => httpRequest(gw.url, '/v1/chat/completions', { body: chat('chat'), headers });
    assert.equal((await call(key)).status, 200);
    assert.equal((await call({})).status, 401, 'keys exist: a request without one is refused');
    const r = await httpRequest(gw.url, '/admin/reload', { method: 'POST', headers: ADMIN });
    assert.equal(r.status, 200, r.text);
    assert.equal((await call(key)).status, 200, 'the key still works on the new config');
    assert.equal((await call({})).status, 401);
  });
});

describe('config reload: local models', () => {
  let gw;
  let file;
  const localYaml = (extra = '') => `server: { host: 127.0.0.1, port: 0, threads: 2 }
providers:
  edge: { kind: local, model: ${TINY}, context: 512, parallel: 2, threads: 1 }
${extra}models:
  tiny: [{ provider: edge, model: tiny-f16 }]
`;
  const tinyChat = { model: 'tiny', messages: [{ role: 'user', content: 'Tell me about the sea' }], temperature: 0, max_tokens: 8 };

  before(async () => {
    assert.ok(fs.existsSync(TINY), `test model missing: ${TINY}`);
    file = tempFile('reload-local.yaml', localYaml());
    gw = await startGateway({ args: ['--config', file], env: cleanEnv({ ARBITRA_MASTER_KEY: MASTER }) });
  });
  after(stopAll);

  test('an unchanged local model is kept; a removed one is unloaded', T, async () => {
    const first = await httpRequest(gw.url, '/v1/chat/completions', { body: tinyChat });
    assert.equal(first.status, 200, first.text);
    assert.equal(await metric(gw, 'arbitra_local_model_loaded{provider="edge"}'), 1);

    // Same settings, another provider added above nothing: edge stays loaded.
    fs.writeFileSync(file, `# edited\n${localYaml()}`);
    const kept = await httpRequest(gw.url, '/admin/reload', { method: 'POST', headers: ADMIN });
    assert.equal(kept.status, 200, kept.text);
    assert.deepEqual(kept.json.providers.kept, ['edge']);
    assert.deepEqual(kept.json.providers.loaded, []);
    assert.equal(await metric(gw, 'arbitra_local_model_loaded{provider="edge"}'), 1, 'not loaded twice');
    const again = await httpRequest(gw.url, '/v1/chat/completions', { body: tinyChat });
    assert.equal(again.json.choices[0].message.content, first.json.choices[0].message.content);
    // The kept model kept its KV cache: the same prompt is served from it.
    assert.equal(again.json.usage.prompt_tokens_details.cached_tokens, again.json.usage.prompt_tokens - 1);

    // Changed settings (parallel 2 -> 1): a new engine is loaded, the old one released.
    fs.writeFileSync(file, localYaml().replace('parallel: 2', 'parallel: 1'));
    const changed = await httpRequest(gw.url, '/admin/reload', { method: 'POST', headers: ADMIN });
    assert.equal(changed.status, 200, changed.text);
    assert.deepEqual(changed.json.providers.loaded, ['edge']);
    assert.deepEqual(changed.json.providers.released, ['edge']);
    await waitFor('the old engine unloaded', async () => (await metric(gw, 'arbitra_local_model_loaded{provider="edge"}')) === 1);
    const fresh = await httpRequest(gw.url, '/v1/chat/completions', { body: tinyChat });
    assert.equal(fresh.json.choices[0].message.content, first.json.choices[0].message.content, 'same model, same greedy answer');
    assert.equal(fresh.json.usage.prompt_tokens_details?.cached_tokens ?? 0, 0, 'a new engine: nothing cached yet');

    // Removed: unloaded, and its model name is gone.
    fs.writeFileSync(file, `server: { host: 127.0.0.1, port: 0, threads: 2 }
providers:
  other: { kind: openai, base_url: "http://127.0.0.1:1/v1" }
models:
  elsewhere: [{ provider: other, model: x }]
`);
    const removed = await httpRequest(gw.url, '/admin/reload', { method: 'POST', headers: ADMIN });
    assert.equal(removed.status, 200, removed.text);
    assert.deepEqual(removed.json.providers.released, ['edge']);
    await waitFor('edge unloaded', async () => (await metric(gw, 'arbitra_local_model_loaded{provider="edge"}')) === undefined);
    const gone = await httpRequest(gw.url, '/v1/chat/completions', { body: tinyChat });
    assert.equal(gone.status, 404);
    assertHealthyProcess(gw);
  });
});
