// Test harness for the integration suite: starts the provider simulator
// (arbitra-sim) and the gateway (arbitra serve) as child processes on port 0,
// waits for their "listening" line, keeps their stderr, and kills them at the
// end. Also: temp config files, a byte-level HTTP/1.1 client over node:net
// (pipelining, keep-alive, malformed and slow requests), an SSE parser, and
// checks for leaked secrets and sanitizer reports.
//
// Binaries come from ARBITRA_BIN / ARBITRA_SIM_BIN (the sanitizer build reuses
// the suite), defaulting to <repo>/build/arbitra and <repo>/build/arbitra-sim.
//
//   const sim = await startSim();
//   const gw = await startGateway({ config: standardConfig(sim.port) });
//   const res = await httpRequest(gw.url, '/v1/chat/completions', { body: {...} });
//   after(stopAll);
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const ARBITRA_BIN = process.env.ARBITRA_BIN || path.join(REPO, 'build', 'arbitra');
export const SIM_BIN = process.env.ARBITRA_SIM_BIN || path.join(REPO, 'build', 'arbitra-sim');

// The upstream key the gateway is given (through SIM_KEY): it must never come
// back in a response or appear in the gateway's logs.
export const SIM_KEY = 'sk-test-secret-123';
// What test clients send as *their* key to the gateway (not a secret).
export const CLIENT_KEY = 'client-key-not-secret';

// Sanitizer builds start and answer more slowly; every wait scales with this
// (ARBITRA_TEST_SLOWDOWN, or 3 when the binary lives in a sanitizer build dir).
const SLOW = Number(process.env.ARBITRA_TEST_SLOWDOWN || (/(asan|tsan|ubsan|sanitize)/i.test(ARBITRA_BIN) ? 3 : 1));
export const ms = (n) => Math.round(n * SLOW);
const START_TIMEOUT_MS = ms(30_000);

// ---------------------------------------------------------------------------
// Environment and temp files

// Variables the gateway reads to find providers (and anything shaped like
// them): a test must never reach a real provider or pick up a real key.
const PROVIDER_ENV = /^(OPENAI|ANTHROPIC|GROQ|TOGETHER|DEEPINFRA|FIREWORKS|OPENROUTER|MISTRAL|AZURE|GEMINI|GOOGLE|COHERE|XAI|DEEPSEEK)_|_API_KEY$|_BASE_URL$|^SIM_KEY$/;

export function cleanEnv(extra = {}) {
  const env = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!PROVIDER_ENV.test(name)) env[name] = value;
  }
  return { ...env, ...extra };
}

let tempDir;
// A fresh path in the run's temp folder; written with `content` unless it is null.
export function tempFile(name, content) {
  tempDir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'arbitra-it-'));
  const file = path.join(tempDir, `${Date.now()}-${Math.random().toString(36).slice(2, 8)}-${name}`);
  if (content !== null) fs.writeFileSync(file, content);
  return file;
}

// ---------------------------------------------------------------------------
// Child processes

const children = new Set();

export class Child {
  constructor(name, proc) {
    this.name = name;
    this.proc = proc;
    this.stdout = '';
    this.stderr = '';
    this.exit = new Promise((resolve) => {
      proc.on('exit', (code, signal) => {
        children.delete(this);
        resolve({ code, signal });
      });
    });
    proc.stdout.setEncoding('utf8');
    proc.stderr.setEncoding('utf8');
    proc.stdout.on('data', (d) => { this.stdout += d; });
    proc.stderr.on('data', (d) => { this.stderr += d; });
    children.add(this);
  }

  get alive() {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  // Sends `signal`, waits for the exit (SIGKILL after `timeoutMs`), returns {code, signal}.
  async stop({ signal = 'SIGTERM', timeoutMs = ms(5000) } = {}) {
    if (this.alive) this.proc.kill(signal);
    let timer;
    const killed = new Promise((resolve) => {
      timer = setTimeout(() => {
        if (this.alive) this.proc.kill('SIGKILL');
        resolve(null);
      }, timeoutMs);
    });
    const first = await Promise.race([this.exit, killed]);
    clearTimeout(timer);
    const result = await this.exit;
    return { ...result, timedOut: first === null };
  }
}

// Spawns `bin args`, resolves once stdout matches `ready` (a RegExp whose
// groups the caller reads), rejects with the process's stderr if it exits or
// stays silent for too long.
export function startChild(name, bin, args, { env, ready, timeoutMs = START_TIMEOUT_MS } = {}) {
  if (!fs.existsSync(bin)) throw new Error(`${name}: binary not found: ${bin} (set ARBITRA_BIN / ARBITRA_SIM_BIN)`);
  const proc = spawn(bin, args, { env: env ?? cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  const child = new Child(name, proc);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      child.stop({ signal: 'SIGKILL' });
      reject(new Error(`${name} did not print its listening line within ${timeoutMs} ms\nstdout: ${child.stdout}\nstderr: ${child.stderr}`));
    }, timeoutMs);
    const onData = () => {
      const match = child.stdout.match(ready);
      if (match) {
        cleanup();
        child.match = match;
        resolve(child);
      }
    };
    const onExit = (code, signal) => {
      cleanup();
      reject(new Error(`${name} exited (code ${code}, signal ${signal}) before listening\nstdout: ${child.stdout}\nstderr: ${child.stderr}`));
    };
    const onError = (error) => {
      cleanup();
      reject(error);
    };
    function cleanup() {
      clearTimeout(timer);
      proc.stdout.off('data', onData);
      proc.off('exit', onExit);
      proc.off('error', onError);
    }
    proc.stdout.on('data', onData);
    proc.on('exit', onExit);
    proc.on('error', onError);
  });
}

// Runs `bin args` to completion (for commands that must fail at start-up).
export function runToExit(bin, args, { env, timeoutMs = ms(15_000) } = {}) {
  const proc = spawn(bin, args, { env: env ?? cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  const child = new Child(path.basename(bin), proc);
  let timer;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  return Promise.race([child.exit, timeout]).then(async (result) => {
    clearTimeout(timer);
    if (result === 'timeout') {
      await child.stop({ signal: 'SIGKILL' });
      return { code: null, signal: 'timeout', stdout: child.stdout, stderr: child.stderr, timedOut: true };
    }
    return { ...result, stdout: child.stdout, stderr: child.stderr, timedOut: false };
  });
}

export async function stopAll() {
  await Promise.all([...children].map((c) => c.stop()));
}

process.on('exit', () => {
  for (const c of children) {
    try { c.proc.kill('SIGKILL'); } catch { /* already gone */ }
  }
  if (tempDir) fs.rmSync(tempDir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------
// The simulator and the gateway

// Simulator models used across the suite (names as the brief describes them).
export const SIM_YAML = `seed: 7
models:
  - name: slow
    ttft_ms: 200
    tokens_per_second: 50
    output_tokens: 20
  - name: quick
    output_tokens: 12
  - name: flaky
    failure: "status:500"
  - name: badreq
    failure: "status:400"
  - name: garbage
    failure: garbage
  - name: dropper
    failure: disconnect
    output_tokens: 40
    tokens_per_second: 400
  - name: hang
    failure: hang
  - name: limited
    rate_limit_rate: 1.0
    retry_after_seconds: 7
  - name: status429
    failure: "status:429"
  - name: cached
    output_tokens: 10
    cached_fraction: 0.5
    reasoning_tokens: 4
`;

export async function startSim({ yaml = SIM_YAML, args = [], env } = {}) {
  const file = tempFile('sim.yaml', yaml);
  const sim = await startChild('arbitra-sim', SIM_BIN, ['--port', '0', '--config', file, ...args], {
    env: env ?? cleanEnv(),
    ready: /arbitra-sim listening on http:\/\/([^\s:]+):(\d+)/,
  });
  sim.port = Number(sim.match[2]);
  sim.url = `http://127.0.0.1:${sim.port}`;
  return sim;
}

let ledgerCount = 0;

// `config`: YAML text (written to a temp file) or null for no --config.
export async function startGateway({ config = null, args = [], env } = {}) {
  const argv = ['serve'];
  if (config !== null) argv.push('--config', tempFile('arbitra.yaml', config));
  if (!args.includes('--port')) argv.push('--port', '0');
  // Each gateway gets its own ledger file unless the test chooses one.
  if (!args.includes('--ledger') && !args.includes('--no-ledger') && !/^ledger:/m.test(config ?? '')) {
    argv.push('--ledger', tempFile(`ledger-${++ledgerCount}.db`, null));
  }
  argv.push(...args);
  const gw = await startChild('arbitra', ARBITRA_BIN, argv, {
    env: env ?? cleanEnv({ SIM_KEY }),
    ready: /arbitra listening on http:\/\/(\S+?):(\d+)( \(simulated\))?\s*$/m,
  });
  gw.host = gw.match[1];
  gw.port = Number(gw.match[2]);
  gw.simulated = Boolean(gw.match[3]);
  gw.url = `http://127.0.0.1:${gw.port}`;
  return gw;
}

// The gateway config most tests use: two providers over one external
// simulator (its OpenAI side "simoa" and Anthropic side "simant"), two more
// with a 500 ms first-byte timeout, and public models for every behaviour.
export function standardConfig(simPort, { server = '', providers = '', models = '' } = {}) {
  const p = simPort;
  return `server:
  host: 127.0.0.1
  port: 0
  threads: 2
  max_body_bytes: 65536
  max_header_bytes: 8192
  read_timeout_ms: 1000
${server}providers:
  simoa:
    kind: openai
    base_url: http://127.0.0.1:${p}/v1
    api_key: \${SIM_KEY}
  simant:
    kind: anthropic
    base_url: http://127.0.0.1:${p}
    api_key: \${SIM_KEY}
  simoashort:
    kind: openai
    base_url: http://127.0.0.1:${p}/v1
    api_key: \${SIM_KEY}
    timeouts: { first_byte_ms: 500 }
  simantshort:
    kind: anthropic
    base_url: http://127.0.0.1:${p}
    api_key: "\${SIM_KEY}"
    timeouts: { first_byte_ms: 500 }
${providers}models:
  gpt-test: [{ provider: simoa, model: slow }]
  claude-test: [{ provider: simant, model: slow }]
  fallback-test: [{ provider: simoa, model: flaky }, { provider: simant, model: slow }]
  quick-test: [{ provider: simoa, model: quick }]
  claude-quick: [{ provider: simant, model: quick }]
  flaky-test: [{ provider: simoa, model: flaky }]
  claude-flaky: [{ provider: simant, model: flaky }]
  badreq-test: [{ provider: simoa, model: badreq }]
  garbage-test: [{ provider: simoa, model: garbage }]
  claude-garbage: [{ provider: simant, model: garbage }]
  garbage-fallback: [{ provider: simoa, model: garbage }, { provider: simant, model: slow }]
  dropper-test: [{ provider: simoa, model: dropper }]
  claude-dropper: [{ provider: simant, model: dropper }]
  hang-test: [{ provider: simoashort, model: hang }]
  claude-hang: [{ provider: simantshort, model: hang }]
  limited-test: [{ provider: simoa, model: limited }]
  claude-limited: [{ provider: simant, model: limited }]
  status429-test: [{ provider: simoa, model: status429 }]
  cached-test: [{ provider: simoa, model: cached }]
  embed-test: [{ provider: simoa, model: sim-embed }]
${models}`;
}

// ---------------------------------------------------------------------------
// HTTP over fetch

// One request with a deadline; the body is read whole. `body` objects are sent
// as JSON, strings as they are.
export async function httpRequest(base, route, { method, body, headers = {}, timeoutMs = ms(20_000) } = {}) {
  const init = { method: method ?? (body === undefined ? 'GET' : 'POST'), headers: { ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    if (!Object.keys(init.headers).some((h) => h.toLowerCase() === 'content-type')) {
      init.headers['content-type'] = 'application/json';
    }
  }
  init.signal = AbortSignal.timeout(timeoutMs);
  const started = performance.now();
  const res = await fetch(base + route, init);
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, text, json, elapsedMs: performance.now() - started };
}

// A streamed request: returns the body as text plus when each piece arrived.
export async function httpStream(base, route, { body, headers = {}, timeoutMs = ms(20_000) } = {}) {
  const started = performance.now();
  const res = await fetch(base + route, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const decoder = new TextDecoder();
  const pieces = [];
  let text = '';
  for await (const chunk of res.body) {
    const piece = decoder.decode(chunk, { stream: true });
    pieces.push({ at: performance.now() - started, text: piece });
    text += piece;
  }
  return { status: res.status, headers: res.headers, text, pieces, elapsedMs: performance.now() - started };
}

// "event: x\ndata: y\n\n" blocks -> [{event, data, json}] (comments skipped).
export function parseSSE(text) {
  const events = [];
  for (const block of text.split(/\r?\n\r?\n/)) {
    if (!block.trim()) continue;
    let event = '';
    const data = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    if (!event && data.length === 0) continue;
    const joined = data.join('\n');
    let json;
    try { json = JSON.parse(joined); } catch { json = undefined; }
    events.push({ event, data: joined, json });
  }
  return events;
}

// ---------------------------------------------------------------------------
// Raw HTTP/1.1 over node:net, for byte-level tests

export class RawConnection {
  static open(port, host = '127.0.0.1') {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host });
      socket.once('connect', () => resolve(new RawConnection(socket)));
      socket.once('error', reject);
    });
  }

  constructor(socket) {
    this.socket = socket;
    this.buffer = Buffer.alloc(0);
    this.closed = false;
    this.error = null;
    this.waiters = [];
    socket.on('data', (d) => {
      this.buffer = Buffer.concat([this.buffer, d]);
      this.wake();
    });
    socket.on('end', () => { this.closed = true; this.wake(); });
    socket.on('close', () => { this.closed = true; this.wake(); });
    socket.on('error', (e) => { this.error = e; this.closed = true; this.wake(); });
  }

  wake() {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  // Resolves on the next data/close event, or after `deadline` (ms since epoch).
  waitForChange(deadline) {
    return new Promise((resolve) => {
      const left = deadline - Date.now();
      const timer = setTimeout(() => resolve(false), Math.max(0, left));
      this.waiters.push(() => { clearTimeout(timer); resolve(true); });
    });
  }

  write(data) {
    return new Promise((resolve, reject) => {
      this.socket.write(data, (err) => (err ? reject(err) : resolve()));
    });
  }

  // Reads one whole response (Content-Length, chunked, or until close). Throws
  // on timeout; returns null when the peer closed before a response started.
  async readResponse({ timeoutMs = ms(10_000) } = {}) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const parsed = parseResponse(this.buffer, this.closed);
      if (parsed) {
        this.buffer = this.buffer.subarray(parsed.consumed);
        return parsed.response;
      }
      if (this.closed) {
        if (this.buffer.length === 0) return null;
        throw new Error(`connection closed in the middle of a response: ${JSON.stringify(this.buffer.toString('latin1').slice(0, 400))}`);
      }
      if (Date.now() >= deadline) {
        throw new Error(`no complete response within ${timeoutMs} ms; have ${JSON.stringify(this.buffer.toString('latin1').slice(0, 400))}`);
      }
      await this.waitForChange(deadline);
    }
  }

  // True when the peer closes within `timeoutMs`.
  async waitClosed(timeoutMs = ms(5000)) {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) await this.waitForChange(deadline);
    return this.closed;
  }

  destroy() {
    this.socket.destroy();
  }
}

// Parses one HTTP/1.1 response at the start of `buf`. Returns
// {response: {status, reason, headers (lowercased names), body (string), raw}, consumed}
// or null when more bytes are needed.
export function parseResponse(buf, closed = false) {
  const headEnd = buf.indexOf('\r\n\r\n');
  if (headEnd < 0) return null;
  const head = buf.subarray(0, headEnd).toString('latin1');
  const [statusLine, ...lines] = head.split('\r\n');
  const m = statusLine.match(/^HTTP\/(\d\.\d) (\d{3}) ?(.*)$/);
  if (!m) throw new Error(`bad status line: ${JSON.stringify(statusLine)}`);
  const headers = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  const status = Number(m[2]);
  let pos = headEnd + 4;
  let body;
  if (status === 204 || status === 304 || (status >= 100 && status < 200)) {
    body = Buffer.alloc(0);
  } else if ((headers['transfer-encoding'] || '').toLowerCase().includes('chunked')) {
    const parts = [];
    for (;;) {
      const lineEnd = buf.indexOf('\r\n', pos);
      if (lineEnd < 0) return null;
      const size = parseInt(buf.subarray(pos, lineEnd).toString('latin1').split(';')[0], 16);
      if (Number.isNaN(size)) throw new Error('bad chunk size');
      pos = lineEnd + 2;
      if (size === 0) {
        // trailers until an empty line
        for (;;) {
          const end = buf.indexOf('\r\n', pos);
          if (end < 0) return null;
          const empty = end === pos;
          pos = end + 2;
          if (empty) break;
        }
        break;
      }
      if (buf.length < pos + size + 2) return null;
      parts.push(buf.subarray(pos, pos + size));
      pos += size + 2;
    }
    body = Buffer.concat(parts);
  } else if (headers['content-length'] !== undefined) {
    const length = Number(headers['content-length']);
    if (buf.length < pos + length) return null;
    body = buf.subarray(pos, pos + length);
    pos += length;
  } else {
    if (!closed) return null;  // the body ends at close
    body = buf.subarray(pos);
    pos = buf.length;
  }
  const text = body.toString('utf8');
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return {
    response: { version: m[1], status, reason: m[3], headers, body: text, json, raw: buf.subarray(0, pos).toString('latin1') },
    consumed: pos,
  };
}

// Serialises a request. `body` objects become JSON; Content-Length is added
// unless `headers` has one or a Transfer-Encoding.
export function rawRequest(method, target, { body, headers = {}, version = '1.1' } = {}) {
  const payload = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
  const lines = [`${method} ${target} HTTP/${version}`, 'Host: 127.0.0.1'];
  const names = Object.keys(headers).map((h) => h.toLowerCase());
  if (body !== undefined && !names.includes('content-type')) lines.push('Content-Type: application/json');
  if (!names.includes('content-length') && !names.includes('transfer-encoding') && (body !== undefined || method === 'POST')) {
    lines.push(`Content-Length: ${Buffer.byteLength(payload)}`);
  }
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  return `${lines.join('\r\n')}\r\n\r\n${payload}`;
}

// One request on a fresh connection; returns the response (or null when the
// server closed without answering).
export async function rawExchange(port, bytes, { timeoutMs = ms(10_000) } = {}) {
  const conn = await RawConnection.open(port);
  try {
    await conn.write(bytes);
    return await conn.readResponse({ timeoutMs });
  } finally {
    conn.destroy();
  }
}

// ---------------------------------------------------------------------------
// Assertions shared by the files

export function assertOpenAIError(body, status, what = '') {
  assert.ok(body && typeof body === 'object', `${what}: error body is JSON (got ${JSON.stringify(body)})`);
  assert.ok(body.error && typeof body.error === 'object', `${what}: OpenAI error has an "error" object: ${JSON.stringify(body)}`);
  assert.equal(typeof body.error.message, 'string', `${what}: error.message is a string`);
  assert.ok(body.error.message.length > 0, `${what}: error.message is not empty`);
  assert.equal(typeof body.error.type, 'string', `${what}: error.type is a string`);
  assert.ok('param' in body.error, `${what}: error.param present (may be null)`);
  assert.ok('code' in body.error, `${what}: error.code present (may be null)`);
  assert.equal(body.type, undefined, `${what}: not the Anthropic shape`);
}

export function assertAnthropicError(body, what = '') {
  assert.ok(body && typeof body === 'object', `${what}: error body is JSON (got ${JSON.stringify(body)})`);
  assert.equal(body.type, 'error', `${what}: Anthropic error has type "error": ${JSON.stringify(body)}`);
  assert.ok(body.error && typeof body.error === 'object', `${what}: Anthropic error has an "error" object`);
  assert.equal(typeof body.error.type, 'string', `${what}: error.type is a string`);
  assert.equal(typeof body.error.message, 'string', `${what}: error.message is a string`);
  assert.ok(body.error.message.length > 0, `${what}: error.message is not empty`);
}

export function assertNoSecret(text, where, secret = SIM_KEY) {
  const s = String(text);
  assert.ok(!s.includes(secret), `the upstream key leaked into ${where}: ...${s.slice(Math.max(0, s.indexOf(secret) - 120), s.indexOf(secret) + 40)}...`);
}

export function headersText(headers) {
  if (typeof headers?.entries === 'function') return [...headers.entries()].map(([k, v]) => `${k}: ${v}`).join('\n');
  return Object.entries(headers ?? {}).map(([k, v]) => `${k}: ${v}`).join('\n');
}

// The process is still up and wrote no sanitizer report or handler crash.
export function assertHealthyProcess(child) {
  assert.ok(child.alive, `${child.name} is still running (exited: ${child.proc.exitCode} ${child.proc.signalCode})\nstderr tail: ${child.stderr.slice(-2000)}`);
  assertCleanStderr(child);
}

export function assertCleanStderr(child) {
  for (const marker of ['AddressSanitizer', 'LeakSanitizer', 'UndefinedBehaviorSanitizer', 'runtime error:', 'handler failed', 'terminate called', 'Segmentation fault']) {
    assert.ok(!child.stderr.includes(marker), `${child.name} stderr contains "${marker}":\n${child.stderr.slice(Math.max(0, child.stderr.indexOf(marker) - 500), child.stderr.indexOf(marker) + 3000)}`);
  }
}

export const sleep = (n) => new Promise((resolve) => setTimeout(resolve, n));

export function words(text) {
  return text.trim().split(/\s+/).filter(Boolean);
}
