// The short CI version of the fault campaign (issue #7; the full run is
// `deno task vopr --campaign --seeds 1000`, see bench/campaign/README.md):
// 5 seeds × 50 LAN members at 20 % packet loss, each with 2 minutes of
// faults drawn at random — crashes and restarts, short and long pauses,
// partitions with heal and rejoin — and every invariant checker after
// every step. Asserted in virtual
// time: zero violations, every crash seen dead by every live member within
// the campaign bound (a miss is a violation, see `campaignBounds`), zero
// healthy members declared dead by a healthy observer with our default
// (Lifeguard + liveness veto), and — on the same seeds — more of them
// without Lifeguard or veto. (A member waking from its own long pause may
// declare a healthy one dead at a refuted incarnation: counted apart as
// `wokenDeaths`, see bench/campaign/README.md.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { lanConfig } from "../../src/config.ts";
import {
  campaignBounds,
  type CampaignResult,
  runCampaignSeed,
} from "../../src/testing/campaign.ts";

const SEEDS = [1, 2, 3, 4, 5];
const N = 50;
/** 2 protocol minutes of faults per seed (the full campaign runs 3). */
const FAULT_MS = 120_000;

function describe(r: CampaignResult): string {
  return `seed ${r.seed} ${r.mode}: ${r.crashes} crashes, ${r.detections} detections (max ${r.maxDetectionMs} ms, bound ${r.detectionBoundMs} ms), ` +
    `${r.shortPauses} short / ${r.longPauses} long pauses, ${r.partitions} partitions; ` +
    `false deaths ${r.falseDeaths} (+${r.wokenDeaths} by woken observers), short-pause deaths ${r.shortPauseDeaths}, explained ${r.explainedDeaths}; ` +
    `${r.suspicions} failed probes, ${r.refutes} refutations, ${r.vetoes} vetoes`;
}

test(
  "campaign: 5 seeds × 50 members at 20% loss, zero violations, crashes detected within the bound",
  { timeout: 120_000 },
  () => {
    const bound = campaignBounds(lanConfig(), N);
    // 6 × 1 s × 8 + 6.792 s × 6 + (⌈log3 50⌉ + 4 × ⌈log10 51⌉) × 200 ms + 8 s
    assert.equal(bound.detectionBoundMs, 99_152);
    let crashes = 0;
    let swimFalse = 0;
    let defaultFalse = 0;
    for (const seed of SEEDS) {
      const r = runCampaignSeed(seed, "default", { faultMs: FAULT_MS });
      console.log(describe(r));
      assert.equal(r.error, null, `seed ${seed}: ${r.error}`);
      assert.ok(r.ok);
      assert.ok(r.maxDetectionMs <= r.detectionBoundMs);
      // Every crash is seen by (nearly) every other member: a crash has up
      // to 49 observers, fewer only when some were paused or down then.
      assert.ok(r.detections >= r.crashes * (N - 1 - 6), describe(r));
      assert.equal(r.falseDeaths, 0, describe(r));
      // The checker counts deaths declared by any observer, woken ones too.
      assert.equal(
        r.checkerFalsePositives,
        r.falseDeaths + r.wokenDeaths,
        describe(r),
      );
      crashes += r.crashes;
      defaultFalse += r.falseDeaths;
    }
    // Two of the seeds again without Lifeguard and veto (CI time).
    for (const seed of SEEDS.slice(0, 2)) {
      const s = runCampaignSeed(seed, "swim", { faultMs: FAULT_MS });
      console.log(describe(s));
      assert.equal(s.error, null, `seed ${seed} (swim): ${s.error}`);
      swimFalse += s.falseDeaths;
    }
    assert.ok(crashes >= SEEDS.length, `${crashes} crashes in all`);
    // Without Lifeguard and the veto, 20 % loss alone kills healthy members.
    assert.ok(swimFalse > defaultFalse, `${swimFalse} vs ${defaultFalse}`);
  },
);

test("campaign: a seed replays to the same trace", { timeout: 30_000 }, () => {
  const a = runCampaignSeed(7, "default", { faultMs: 30_000 });
  const b = runCampaignSeed(7, "default", { faultMs: 30_000 });
  assert.equal(a.traceHash, b.traceHash);
  assert.deepEqual(a.histogram, b.histogram);
});
