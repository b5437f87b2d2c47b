// How fast one broadcast reaches every member, against the epidemic model.
//
// memberlist's dissemination (SPEC §6.4): every GossipInterval (200 ms) each
// member sends its queued broadcasts to GossipNodes = k = 3 random members,
// one transmission per target, until a broadcast was sent
// L = RetransmitMult × ceil(log10(n + 1)) times (12 for n = 100, 16 for
// n = 1,000); every member that accepts a new alive re-broadcasts it. That
// is push gossip with fanout k, for which the rounds until everyone has the
// rumour are T(n) = log_{k+1} n + (ln n)/k + O(1) (Pittel 1987; Frieze &
// Grimmett 1985 for fanout k): 4.9 rounds for n = 100 and 7.3 for n = 1,000.
// We allow the model's value rounded up plus 2 rounds (the source waits for
// its next tick; the O(1) term). A member is missed entirely only if none
// of the n·L random transmissions hits it: n·e^−L ≈ 6e−4 for n = 100 and
// 1e−4 for n = 1,000 per broadcast (push-pull repairs those), so a few
// fixed seeds are checked.
//
// The observable: the source changes its meta (memberlist UpdateNode), so
// it broadcasts an alive with a higher incarnation and a 300-byte meta, and
// every member that accepts it emits an `update` event.
import { test } from "node:test";
import assert from "node:assert/strict";
import { lanConfig } from "../../src/config.ts";
import { retransmitLimit } from "../../src/memberlist/formulas.ts";
import {
  memberlistCluster,
  startConverged,
} from "../../src/testing/memberlist_sim.ts";

const LAN = lanConfig();

function modelRounds(n: number, k: number): number {
  return Math.log(n) / Math.log(k + 1) + Math.log(n) / k;
}

interface Spread {
  rounds: number;
  histogram: number[];
  bootstrapWallMs: number;
  reached: number;
}

function spread(
  n: number,
  seed: number,
  formation: "joined" | "converged",
): Spread {
  const started = performance.now();
  const metas = new Map<string, Uint8Array>();
  const c = memberlistCluster({
    seed,
    expectedSize: n,
    checkers: n > 200 ? "none" : "light",
    trace: false,
    delegateFor: (name) => ({
      nodeMeta: () => metas.get(name) ?? new Uint8Array(0),
    }),
  });
  // Full membership first (the model's random targets range over everyone)
  // and quiet broadcast queues (the model's rumour is the only one).
  if (formation === "joined") {
    // Through the protocol: everyone joins one seed, gossip and push-pull
    // spread the rest, then the join broadcasts age so the measured one is
    // served first (fewest transmits first, then longest).
    c.start(n);
    c.joinAll();
    const everyone = (): boolean => {
      let known = 0;
      for (const x of c.names()) known += c.machine(x)!.numMembers();
      return known === n * n;
    };
    assert.notEqual(
      c.runUntil(everyone, 120_000, 500),
      null,
      "membership converged",
    );
    c.run(5_000);
  } else {
    // As a cluster is once its join storm has drained: getting there
    // through the protocol costs n²·L gossiped alives (16 M for n = 1,000),
    // and a queue still full of fresh join alives would serve the measured
    // broadcast once per round (it drops behind them after one transmit).
    startConverged(c, n);
  }
  const bootstrapWallMs = performance.now() - started;
  // Inject 1 ms before a gossip tick (all members tick in step: they were
  // created together), so round r is the r-th tick after injection plus
  // its network delay.
  const tick = LAN.gossipIntervalMs;
  c.run(tick - (c.nowMs % tick) - 1);
  const source = c.nameOf(Math.floor(n / 2));
  const got = new Map<string, number>();
  c.onEvent((who, e, t) => {
    if (
      e.type === "update" && e.member.name === source && who !== source &&
      !got.has(who)
    ) got.set(who, t);
  });
  metas.set(source, new Uint8Array(300).fill(1));
  const t0 = c.nowMs;
  c.invoke(source, (m, now) => m.updateMeta(now));
  c.runUntil(() => got.size === n - 1, 30_000, tick);
  const histogram: number[] = [];
  let rounds = 0;
  for (const t of got.values()) {
    const r = Math.ceil((t - t0) / tick);
    histogram[r] = (histogram[r] ?? 0) + 1;
    rounds = Math.max(rounds, r);
  }
  return {
    rounds,
    histogram: Array.from(histogram, (x) => x ?? 0),
    bootstrapWallMs,
    reached: got.size,
  };
}

function check(
  n: number,
  seeds: number[],
  formation: "joined" | "converged",
): void {
  const k = LAN.gossipNodes;
  const bound = Math.ceil(modelRounds(n, k)) + 2;
  const results: string[] = [];
  for (const seed of seeds) {
    const s = spread(n, seed, formation);
    assert.equal(s.reached, n - 1, `seed ${seed}: everyone got the broadcast`);
    assert.ok(
      s.rounds <= bound,
      `seed ${seed}: ${s.rounds} rounds > ${bound} [${s.histogram.join(" ")}]`,
    );
    results.push(
      `seed ${seed}: ${s.rounds} rounds [per round ${
        s.histogram.join(" ")
      }], bootstrap ${(s.bootstrapWallMs / 1000).toFixed(1)} s wall`,
    );
  }
  console.log(
    `dissemination n=${n} (${formation}), k=${k}, L=${
      retransmitLimit(LAN.retransmitMult, n)
    }: model ${modelRounds(n, k).toFixed(1)} rounds, bound ${bound}\n  ` +
      results.join("\n  "),
  );
}

test("a broadcast reaches all 100 members within the epidemic model's rounds", {
  timeout: 30_000,
}, () => {
  check(100, [1, 2, 3, 4, 5], "joined");
  check(100, [1, 2, 3], "converged");
});

test(
  "a broadcast reaches all 1,000 members within the epidemic model's rounds",
  { timeout: 60_000 },
  () => {
    check(1_000, [1, 2, 3], "converged");
  },
);
