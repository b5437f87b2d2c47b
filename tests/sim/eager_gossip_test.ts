// Eager gossip (config `eagerGossip`, on by default) and the idle gossip
// timer, measured in the simulator's virtual time (0–1 ms links). The
// figures behind the assertions print with `deno run -A tests/sim/_eager.ts`.
//
// With memberlist's timing a broadcast waits for its sender's next gossip
// tick at every hop (0–200 ms on LAN, 100 ms on average); eagerly, the
// first round of a new broadcast runs at once on its origin and on every
// member that forwards it, so the bulk of the cluster has it within a few
// link delays, and the ~5 % that the first wave misses (push gossip with
// fanout 3 leaves e^−3(1−x) = x unreached) get it at the regular ticks.
// What must not change: every member that queues a broadcast sends it
// exactly L = RetransmitMult·ceil(log10(n+1)) times, and everyone gets it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { lanConfig } from "../../src/config.ts";
import { retransmitLimit } from "../../src/memberlist/formulas.ts";
import {
  idleWakeups,
  loadTraffic,
  quantile,
  type Spread,
  spreads,
} from "./_eager.ts";

const LAN = lanConfig();
const SEEDS = [1, 2, 3];

function summary(s: Spread): string {
  return `p50 ${quantile(s.fullMs, 0.5)} ms, p90 ${
    quantile(s.fullMs, 0.9)
  } ms, max ${Math.max(...s.fullMs)} ms`;
}

function checkSpread(kind: "user event" | "alive", n: number): void {
  const limit = retransmitLimit(LAN.retransmitMult, n);
  const off = spreads(kind, n, SEEDS, false);
  const on = spreads(kind, n, SEEDS, true);
  for (const [mode, s] of [["off", off], ["on", on]] as const) {
    assert.deepEqual(
      s.reached,
      s.reached.map(() => n),
      `${kind} n=${n} eager ${mode}: every member got every broadcast`,
    );
    for (const counts of s.perSender) {
      // Memberlist's transmit limit, eager or not: a member that queued
      // the broadcast sent it exactly L times. (A member that first got
      // it by push-pull does not queue it, as in Serf, so it sends none.)
      assert.deepEqual(
        counts,
        counts.map(() => limit),
        `${kind} n=${n} eager ${mode}: L = ${limit} transmissions per sender`,
      );
      assert.ok(counts.length >= n - 1, `${kind} n=${n}: senders`);
    }
  }
  const p50On = quantile(on.fullMs, 0.5);
  const p50Off = quantile(off.fullMs, 0.5);
  console.log(
    `${kind}, n=${n}, ${SEEDS.length} seeds × 3, to 100 %: eager off ${
      summary(off)
    }; eager on ${summary(on)}; L = ${limit} per sender`,
  );
  assert.ok(
    p50On <= 0.5 * p50Off,
    `${kind} n=${n}: eager p50 ${p50On} ms > half of ${p50Off} ms`,
  );
  assert.ok(
    quantile(on.fullMs, 0.9) <= quantile(off.fullMs, 0.9),
    `${kind} n=${n}: eager p90 no worse`,
  );
}

for (const n of [8, 32, 64]) {
  test(
    `eager gossip: a user event and an alive reach all ${n} members sooner, with the same transmissions`,
    {
      timeout: 60_000,
    },
    () => {
      checkSpread("user event", n);
      checkSpread("alive", n);
    },
  );
}

test(
  "eager gossip under 50 user events a second: memberlist's packet rate, every event delivered, no later",
  {
    timeout: 60_000,
  },
  () => {
    const off = loadTraffic(16, 1, false);
    const on = loadTraffic(16, 1, true);
    console.log(
      `load 50 events/s, 16 members, per member: eager off ${
        off.packetsPerSecond.toFixed(1)
      } packets/s ${
        off.bytesPerSecond.toFixed(0)
      } B/s, p50 ${off.fullMsP50} ms;` +
        ` eager on ${on.packetsPerSecond.toFixed(1)} packets/s ${
          on.bytesPerSecond.toFixed(0)
        } B/s, p50 ${on.fullMsP50} ms`,
    );
    assert.equal(off.delivered, 1);
    assert.equal(on.delivered, 1);
    // Eager rounds come ≥ eagerGossipMinIntervalMs (one gossip interval)
    // after the round before them, so under sustained load rounds fall on
    // the regular ticks: about memberlist's packet rate, events no later.
    assert.ok(on.packetsPerSecond <= 1.15 * off.packetsPerSecond);
    assert.ok(on.bytesPerSecond <= 1.15 * off.bytesPerSecond);
    assert.ok(on.fullMsP50 <= off.fullMsP50);
  },
);

test(
  "an idle member wakes for its probe ticks only, not for empty gossip ticks",
  {
    timeout: 60_000,
  },
  () => {
    // Before the idle gossip timer was disarmed every member woke 5.03 times
    // a second (gossip every 200 ms, the probe tick and Serf's timers
    // falling on gossip ticks, push-pull every 30 s) with nothing to send.
    // Now: the probe tick (1/s) and push-pull (1/30 s).
    for (const layer of ["memberlist", "serf"] as const) {
      for (const n of [3, 32]) {
        for (const eager of [true, false]) {
          const perSecond = idleWakeups(layer, n, 1, eager, 60);
          assert.ok(
            perSecond <= 1.05,
            `${layer} n=${n} eager ${eager}: ${perSecond} wake-ups/s`,
          );
        }
      }
    }
  },
);
