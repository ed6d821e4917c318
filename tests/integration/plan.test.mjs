// `arbitra plan` end to end: the calibrated factors in its JSON, and --png
// charts (PNG signature, IHDR size equal to the SVG's) written next to --svg
// ones; without rsvg-convert on PATH, --png fails with exit 2 and a message
// naming the package, and writes no partial PNG.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';

import { ARBITRA_BIN, REPO, cleanEnv, tempFile } from './harness.mjs';

const WORKLOAD = path.join(REPO, 'data/planner/workloads/chat.yaml');

function plan(args, env = cleanEnv()) {
  return spawnSync(ARBITRA_BIN, ['plan', WORKLOAD, '--catalog', path.join(REPO, 'data/planner'), ...args],
    { encoding: 'utf8', env });
}

function ihdr(file) {
  const b = fs.readFileSync(file);
  assert.deepEqual([...b.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], `${file}: PNG signature`);
  assert.equal(b.toString('latin1', 12, 16), 'IHDR');
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20), bytes: b.length };
}

describe('arbitra plan', () => {
  test('reports the calibrated efficiency factors', () => {
    const r = plan(['--json']);
    assert.equal(r.status, 0, r.stderr);
    const eff = JSON.parse(r.stdout).efficiency;
    assert.equal(eff.calibrated, true);
    assert.equal(eff.bandwidth, 0.62);
    assert.match(eff.calibrated_against, /TensorRT-LLM/);
  });

  test('--png writes PNG charts of the SVG charts\' size', () => {
    const dir = tempFile('charts', null);
    const r = plan(['--svg', dir, '--png', dir]);
    assert.equal(r.status, 0, r.stderr);
    const svgs = fs.readdirSync(dir).filter((f) => f.endsWith('.svg')).sort();
    assert.deepEqual(svgs, ['chat-cost-split.svg', 'chat-cost-vs-volume.svg']);
    for (const svg of svgs) {
      const text = fs.readFileSync(path.join(dir, svg), 'utf8');
      const [, w, h] = text.match(/<svg[^>]* width="(\d+)" height="(\d+)"/);
      const png = ihdr(path.join(dir, svg.replace(/\.svg$/, '.png')));
      assert.equal(png.width, Number(w), svg);
      assert.equal(png.height, Number(h), svg);
      assert.ok(png.bytes > 5000, `${svg}: ${png.bytes} bytes`);
    }
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
  });

  test('--png without rsvg-convert is a clear error', () => {
    const dir = tempFile('nopng', null);
    const r = plan(['--png', dir], cleanEnv({ PATH: '/nonexistent' }));
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--png needs 'rsvg-convert' on PATH .*librsvg2-bin/);
    assert.deepEqual(fs.readdirSync(dir), []);
  });
});
