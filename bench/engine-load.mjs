// bench/engine-load.mjs URL STREAMS TOKENS [ROUNDS] [chat|completion]:
// STREAMS concurrent non-streamed OpenAI requests (greedy, TOKENS each,
// distinct prompts), ROUNDS times back to back; prints one JSON line:
// aggregate and per-stream generated tokens/s (usage.completion_tokens over
// wall time) and mean latency. The same client drives Arbitra (kind local,
// /v1/chat/completions) and llama-server (/v1/completions with the same
// prompt already in the Llama-3 chat format: llama-server's chat endpoint
// refuses a random model's output in its response parser), so HTTP and JSON
// costs are on both sides.
const [url, streamsArg, tokensArg, roundsArg, modeArg] = process.argv.slice(2);
const completion = modeArg === 'completion';
const streams = Number(streamsArg);
const tokens = Number(tokensArg);
const rounds = Number(roundsArg || 1);
const words = ['river', 'stone', 'market', 'engine', 'cloud', 'paper', 'garden', 'signal'];

async function one(i, round) {
  const prompt = `Request ${round * 1000 + streams * 100 + i}: ` +
    Array.from({ length: 24 }, (_, k) => words[(k * 3 + i + round) % words.length]).join(' ');
  const started = performance.now();
  const body = completion
    ? { model: 'bench', temperature: 0, max_tokens: tokens,
      prompt: `<|start_header_id|>user<|end_header_id|>\n\n${prompt}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n` }
    : { model: 'bench', messages: [{ role: 'user', content: prompt }], temperature: 0, max_tokens: tokens };
  const res = await fetch(`${url}/v1/${completion ? 'completions' : 'chat/completions'}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const answer = await res.json();
  if (res.status !== 200) throw new Error(`${res.status}: ${JSON.stringify(answer).slice(0, 300)}`);
  return { tokens: answer.usage.completion_tokens, ms: performance.now() - started };
}

let total = 0;
let latency = 0;
const started = performance.now();
for (let round = 0; round < rounds; round++) {
  const results = await Promise.all(Array.from({ length: streams }, (_, i) => one(i, round)));
  for (const r of results) { total += r.tokens; latency += r.ms; }
}
const seconds = (performance.now() - started) / 1000;
console.log(JSON.stringify({ streams, tokens: total, seconds,
  aggregate: total / seconds, perStream: total / seconds / streams, meanLatencyMs: latency / (streams * rounds) }));
