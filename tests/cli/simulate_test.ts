/**
 * `grapevine simulate`: the convergence simulator is deterministic per
 * seed, its spreads are complete and ordered, loss slows detection, the
 * tuning is validated like the agent's, and the CLI writes the table, JSON
 * and an SVG. No sockets (virtual network).
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  formatSimulation,
  runSimulation,
  type SimulateOptions,
  simulationSvg,
  SPREAD_PERCENTS,
  spreadAt,
} from "../../src/agent/simulate.ts";
import { grapevine } from "./_helpers.ts";

const BASE: SimulateOptions = {
  nodes: 12,
  profile: "lan",
  config: {},
  lossRate: 0,
  latencyMs: 1,
  jitterMs: 2,
  seed: 3,
  windowMs: 5_000,
  maxMs: 60_000,
};

test(
  "simulate: complete, ordered, deterministic spreads",
  { timeout: 30_000 },
  () => {
    const r = runSimulation(BASE);
    assert.equal(
      r.join.times.length,
      r.join.total,
      "every member learns of the newcomer",
    );
    assert.equal(
      r.failure.times.length,
      r.failure.total,
      "every member declares the crash",
    );
    const at = (s: typeof r.join) =>
      SPREAD_PERCENTS.map((p) => spreadAt(s, p)!);
    for (const s of [r.join, r.failure]) {
      const v = at(s);
      assert.deepEqual(
        [...v].sort((a, b) => a - b),
        v,
        "50% ≤ 90% ≤ 99% ≤ 100%",
      );
    }
    assert.ok(
      r.detectionMs !== null && r.detectionMs <= spreadAt(r.failure, 50)!,
    );
    assert.equal(r.falsePositives, 0);
    assert.ok(r.packetsPerMemberPerSecond > 0 && r.bytesPerMemberPerSecond > 0);
    assert.deepEqual(
      runSimulation(BASE),
      r,
      "the same seed gives the same result",
    );
    const lossy = runSimulation({ ...BASE, lossRate: 0.2 });
    assert.equal(lossy.failure.times.length, lossy.failure.total);
    const table = formatSimulation(r);
    assert.match(table, /^join dissemination\s+\d+\.\d\d s/m);
    assert.match(table, /^false positives:\s+0$/m);
    const svg = simulationSvg(r);
    assert.equal(svg.match(/<polyline /g)?.length, 2);
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  },
);

test("simulate: the CLI prints JSON, writes an SVG, refuses bad tuning", {
  timeout: 30_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), "grapevine-simulate-"));
  try {
    const svg = join(dir, "spread.svg");
    const r = await grapevine([
      "simulate",
      "-nodes=10",
      "--loss",
      "1%",
      "-format=json",
      `-svg=${svg}`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const json = JSON.parse(r.stdout);
    assert.equal(json.options.nodes, 10);
    assert.equal(json.options.lossRate, 0.01);
    assert.equal(typeof json.joinMs["100%"], "number");
    assert.match(readFileSync(svg, "utf8"), /<\/svg>/);
    const t = await grapevine(["simulate", "-nodes=8", "-profile=local"]);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /Simulated 8 members, profile local/);
    const bad = await grapevine([
      "simulate",
      "-probe-interval=1s",
      "-probe-timeout=1s",
    ]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /Invalid -probe-timeout=1s/);
    const loss = await grapevine(["simulate", "-loss=150%"]);
    assert.equal(loss.code, 1);
    assert.match(loss.stderr, /Invalid -loss "150%"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
