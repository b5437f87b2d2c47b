import { test } from "node:test";
import assert from "node:assert/strict";
import {
  CoordinateClient,
  CoordinateRejected,
  distanceSeconds,
  durationSeconds,
  estimateRttMs,
} from "../../src/serf/coordinates.ts";
import { initialCoordinate } from "../../src/codec/coordinate.ts";
import { seeded } from "../helpers/prng.ts";
import { coordinateRun } from "./_coords.ts";

const other = () => ({
  vec: [0.003, 0.004, 0, 0, 0, 0, 0, 0],
  error: 0.5,
  adjustment: 0,
  height: 2e-5,
});

test(
  "Vivaldi update against hand-computed numbers (three samples, median filter)",
  { timeout: 5_000 },
  () => {
    // Reference values from an independent transcription of serf's
    // coordinate/client.go (ns-truncated distances, median of 3, adjustment
    // window 20, gravity rho 150), in IEEE doubles.
    const c = new CoordinateClient(seeded(1));
    const steps: Array<
      [
        number,
        { vec: number[]; error: number; adjustment: number; height: number },
      ]
    > = [
      [10, {
        vec: [-0.0005591249701345483, -0.0007454999601793977],
        error: 1.3119375,
        adjustment: 0.00010081334375000001,
        height: 1.5591248633053e-05,
      }],
      [14, {
        vec: [-0.0014205718959497467, -0.001894095861266329],
        error: 1.1770128895519298,
        adjustment: 0.0002655176971919369,
        height: 2.4205714961518018e-05,
      }],
      [12, {
        vec: [-0.0018756506253272706, -0.0025008675004363607],
        error: 1.0336964461227258,
        adjustment: 0.00036114666136033327,
        height: 2.8756498308564846e-05,
      }],
    ];
    for (const [rtt, want] of steps) {
      const got = c.update("b", other(), rtt);
      assert.deepEqual(
        got.vec,
        [...want.vec, 0, 0, 0, 0, 0, 0],
        `vec after ${rtt} ms`,
      );
      assert.equal(got.error, want.error);
      assert.equal(got.adjustment, want.adjustment);
      assert.equal(got.height, want.height);
    }
  },
);

test("coinciding points move along a random unit vector; height unchanged", {
  timeout: 5_000,
}, () => {
  const c = new CoordinateClient(seeded(3));
  const got = c.update("b", initialCoordinate(), 10);
  // Error: CE·w·wrongness + err·(1 − CE·w) with w = 0.5, wrongness 0.998.
  assert.equal(got.error, 0.25 * 0.5 * 0.998 + 1.5 * (1 - 0.25 * 0.5));
  const mag = Math.hypot(...got.vec);
  assert.ok(Math.abs(mag - 0.125 * (0.01 - 2e-5)) < 1e-9, `moved ${mag}`);
  assert.equal(got.height, 1e-5);
});

test("invalid samples are refused: dimensions, NaN, RTT outside 0..10 s", {
  timeout: 5_000,
}, () => {
  const c = new CoordinateClient(seeded(1));
  assert.throws(
    () => c.update("b", { ...other(), vec: [0, 0] }, 10),
    CoordinateRejected,
  );
  assert.throws(
    () => c.update("b", { ...other(), error: NaN }, 10),
    CoordinateRejected,
  );
  assert.throws(() => c.update("b", other(), -1), CoordinateRejected);
  assert.throws(() => c.update("b", other(), 10_001), CoordinateRejected);
  c.update("b", other(), 0); // zero RTT is allowed (clamped to 1 µs)
  assert.equal(c.resets, 0);
});

test(
  "distance: adjustments apply only when the result stays positive; ns truncation",
  { timeout: 5_000 },
  () => {
    const a = {
      vec: [0.003, 0, 0, 0, 0, 0, 0, 0],
      error: 1,
      adjustment: -0.001,
      height: 1e-5,
    };
    const b = {
      vec: [0, 0.004, 0, 0, 0, 0, 0, 0],
      error: 1,
      adjustment: 0.0005,
      height: 1e-5,
    };
    const raw = Math.sqrt(0.003 * 0.003 + 0.004 * 0.004) + 1e-5 + 1e-5;
    assert.equal(distanceSeconds(a, b), durationSeconds(raw - 0.001 + 0.0005));
    const c = { ...b, adjustment: -1 };
    assert.equal(distanceSeconds(a, c), durationSeconds(raw));
    // Go truncates to whole nanoseconds: 0.00501999999… s is 5 019 999 ns.
    assert.equal(distanceSeconds(a, c), 0.005019999);
    assert.equal(durationSeconds(1.0000000019), 1.000000001);
    assert.equal(estimateRttMs(a, b), distanceSeconds(a, b) * 1000);
  },
);

// Eight members on a plane (RTT = distance in ms, 30..130 ms), no jitter:
// the estimates `serf rtt` would print converge on the true RTTs.
test(
  "Vivaldi converges on a known latency matrix (error bound after 3 and 10 minutes)",
  { timeout: 60_000 },
  () => {
    for (const seed of [1, 2]) {
      const early = coordinateRun(seed, 180_000);
      assert.ok(
        early.mean < 0.1,
        `seed ${seed} 3 min: mean relative error ${early.mean}`,
      );
      const late = coordinateRun(seed, 600_000);
      assert.ok(
        late.mean < 0.02,
        `seed ${seed} 10 min: mean relative error ${late.mean}`,
      );
      assert.ok(
        late.max < 0.05,
        `seed ${seed} 10 min: max relative error ${late.max}`,
      );
      assert.equal(late.resets, 0);
    }
  },
);
