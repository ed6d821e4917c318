// Graceful shutdown: on SIGTERM the gateway stops accepting, closes idle
// keep-alive connections, lets answers in flight finish, then exits 0.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';

import {
  assertCleanStderr, httpStream, ms, parseSSE, sleep, standardConfig, startGateway, startSim, stopAll,
} from './harness.mjs';

const T = { timeout: ms(30_000) };

describe('graceful shutdown', () => {
  let sim;
  before(async () => { sim = await startSim(); });
  after(stopAll);

  test('SIGTERM lets a stream in flight finish, then exits 0', T, async () => {
    const gw = await startGateway({ config: standardConfig(sim.port) });
    // An idle keep-alive connection: must be closed by the drain, not waited for.
    const idle = net.connect(gw.port, '127.0.0.1');
    await new Promise((resolve) => idle.on('connect', resolve));
    const idleClosed = new Promise((resolve) => idle.on('close', resolve));

    // `slow` streams 20 tokens at 50/s after 200 ms: ~600 ms in all. The
    // signal goes out as soon as the first bytes of the answer arrive.
    const started = performance.now();
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'simoa/slow', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(res.status, 200);
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let text = '';
    let signalled = false;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      if (!signalled) {
        gw.proc.kill('SIGTERM');
        signalled = true;
      }
    }
    const events = parseSSE(text);
    assert.equal(events.at(-1).data, '[DONE]', 'the stream in flight ran to its end');
    const content = events.filter((e) => e.data !== '[DONE]')
      .map((e) => JSON.parse(e.data).choices?.[0]?.delta?.content ?? '').join('');
    assert.equal(content.trim().split(/\s+/).length, 20, 'all 20 tokens arrived');

    await idleClosed;  // the idle connection was closed by the server
    // Wait for the exit the first signal asked for (a second would stop at once).
    const exit = await Promise.race([gw.exit, sleep(ms(10_000)).then(() => null)]);
    assert.ok(exit, 'exited by itself after the drain');
    assert.equal(exit.code, 0, `exit code 0; stderr: ${gw.stderr.slice(-1500)}`);
    assert.ok(performance.now() - started >= 500, 'did not exit before the stream could finish');
    assertCleanStderr(gw);
  });

  test('a second SIGTERM stops at once, even with a stream in flight', T, async () => {
    const gw = await startGateway({ config: standardConfig(sim.port) });
    const streaming = httpStream(gw.url, '/v1/chat/completions', {
      body: { model: 'simoa/hang', stream: true, messages: [{ role: 'user', content: 'hi' }] },
      timeoutMs: ms(20_000),
    }).catch((error) => error);
    await sleep(ms(200));
    gw.proc.kill('SIGTERM');
    await sleep(ms(200));
    assert.ok(gw.alive, 'still draining after the first signal (the upstream hangs)');
    const began = performance.now();
    const result = await gw.stop({ signal: 'SIGTERM', timeoutMs: ms(5_000) });
    assert.equal(result.timedOut, false, 'the second signal stopped it');
    assert.ok(performance.now() - began < ms(3_000), 'promptly');
    await streaming;
  });
});
