// bench/engine-load.mjs URL STREAMS TOKENS [ROUNDS] [chat|completion] [FIRST]:
// STREAMS concurrent streamed requests (greedy, TOKENS each,
// distinct prompts), ROUNDS times back to back; prints one JSON line:
// aggregate and per-stream generated tokens/s (the count the stream's last
// event reports, over wall time), mean latency, and time to the first event
// carrying generated text (firstTextMs: min, max, mean over the streams);
// `decode`: tokens after each stream's first over the time after its first
// text, summed over the streams (the generation rate without the prompt).
// FIRST [0] numbers the first round's prompts, so that a caller's later
// rounds (bench/engine.sh BENCH_ROUNDS) get prompts no server has cached. The same client drives Arbitra (kind local,
// /v1/chat/completions) and llama-server (its native /completion with the
// same prompt already in the Llama-3 chat format: its non-streamed answers
// fail its response parser on a random model's output), so HTTP, SSE and JSON
// costs are on both sides. llama-server's timings also carry its draft
// counts (draft_n, draft_n_accepted), summed into `drafted` / `accepted`.
const [url, streamsArg, tokensArg, roundsArg, modeArg, firstArg] = process.argv.slice(2);
const completion = modeArg === 'completion';
const streams = Number(streamsArg);
const tokens = Number(tokensArg);
const rounds = Number(roundsArg || 1);
const first = Number(firstArg || 0);
const words = ['river', 'stone', 'market', 'engine', 'cloud', 'paper', 'garden', 'signal'];

async function one(i, round) {
  const prompt = `Request ${round * 1000 + streams * 100 + i}: ` +
    Array.from({ length: 24 }, (_, k) => words[(k * 3 + i + round) % words.length]).join(' ');
  const started = performance.now();
  const body = completion
    ? { temperature: 0, n_predict: tokens, cache_prompt: true, stream: true,
      prompt: `<|start_header_id|>user<|end_header_id|>\n\n${prompt}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n` }
    : { model: 'bench', messages: [{ role: 'user', content: prompt }], temperature: 0, max_tokens: tokens,
      stream: true, stream_options: { include_usage: true } };
  const res = await fetch(`${url}/${completion ? 'completion' : 'v1/chat/completions'}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  // Read the stream as it comes, noting when the first generated text arrives.
  let text = '';
  let firstTextMs = 0;
  let scanned = 0;
  const decoder = new TextDecoder();
  for await (const chunk of res.body) {
    text += decoder.decode(chunk, { stream: true });
    for (let end = text.indexOf('\n', scanned); !firstTextMs && end >= 0; end = text.indexOf('\n', scanned)) {
      const line = text.slice(scanned, end);
      scanned = end + 1;
      if (!line.startsWith('data: {')) continue;
      const event = JSON.parse(line.slice(6));
      if (event.content || event.choices?.[0]?.delta?.content) firstTextMs = performance.now() - started;
    }
  }
  text += decoder.decode();
  if (res.status !== 200) throw new Error(`${res.status}: ${text.slice(0, 300)}`);
  // The count from the stream's last event: usage (OpenAI) or timings (llama-server).
  let count = 0, drafted = 0, accepted = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
    const event = JSON.parse(line.slice(6));
    if (event.error) throw new Error(`in-stream error after ${count} tokens: ${JSON.stringify(event.error)}`);
    if (event.usage?.completion_tokens) count = event.usage.completion_tokens;
    if (event.timings?.predicted_n) count = event.timings.predicted_n;
    if (event.timings?.draft_n) { drafted = event.timings.draft_n; accepted = event.timings.draft_n_accepted ?? 0; }
  }
  if (!count) throw new Error(`no token count in the stream: ${text.slice(-300)}`);
  return { tokens: count, ms: performance.now() - started, firstTextMs, drafted, accepted };
}

let total = 0;
let latency = 0, drafted = 0, accepted = 0, decode = 0;
const firsts = [];
const started = performance.now();
for (let round = 0; round < rounds; round++) {
  const results = await Promise.all(Array.from({ length: streams }, (_, i) => one(i, first + round)));
  for (const r of results) {
    total += r.tokens; latency += r.ms; drafted += r.drafted; accepted += r.accepted; firsts.push(r.firstTextMs);
    if (r.tokens > 1 && r.ms > r.firstTextMs) decode += (r.tokens - 1) / ((r.ms - r.firstTextMs) / 1000) / rounds;
  }
}
const seconds = (performance.now() - started) / 1000;
console.log(JSON.stringify({ streams, tokens: total, seconds,
  aggregate: total / seconds, perStream: total / seconds / streams, meanLatencyMs: latency / (streams * rounds),
  firstTextMs: { min: Math.min(...firsts), max: Math.max(...firsts), mean: firsts.reduce((a, b) => a + b, 0) / firsts.length },
  decode, drafted, accepted }));
